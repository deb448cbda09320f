import Foundation

/// `trusted_proxies`: the peers whose `X-Forwarded-For` names the client. Each
/// entry is an IP address, a CIDR range (`10.0.0.0/8`, `fd00::/8`: proxies
/// whose address a container platform hands out), or `*` (any peer: only when
/// nothing but the proxy can reach the gateway). An IPv4 address seen as
/// IPv4-mapped IPv6 (`::ffff:10.0.0.5`) matches IPv4 entries.
///
/// ```swift
/// let proxies = try TrustedProxies(["10.0.0.0/8", "192.0.2.1"])
/// proxies.contains("10.1.2.3")   // true
/// ```
public struct TrustedProxies: Sendable, Equatable {
    /// One entry: the address bytes (4 or 16) and how many leading bits must match.
    struct Range: Sendable, Equatable {
        let bytes: [UInt8]
        let prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var bits = prefixLength
            for (a, b) in zip(address, bytes) where bits > 0 {
                let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if a & mask != b & mask { return false }
                bits -= 8
            }
            return true
        }
    }

    public let anyPeer: Bool
    let ranges: [Range]

    public var isEmpty: Bool { !anyPeer && ranges.isEmpty }

    /// Throws ``ConfigError`` naming the first entry that is none of the three forms.
    public init(_ entries: [String]) throws {
        var anyPeer = false
        var ranges: [Range] = []
        for entry in entries {
            if entry == "*" {
                anyPeer = true
                continue
            }
            guard let range = Self.parse(entry) else {
                throw ConfigError("trusted_proxies holds \"\(entry)\", which is not an IP address, a CIDR range (such as 10.0.0.0/8) or *")
            }
            ranges.append(range)
        }
        self.anyPeer = anyPeer
        self.ranges = ranges
    }

    /// Whether `address` (numeric IPv4 or IPv6) is a trusted proxy.
    public func contains(_ address: String) -> Bool {
        anyPeer || listsExplicitly(address)
    }

    /// Whether `address` is a trusted proxy by entry rather than by `*`
    /// (a hop of `X-Forwarded-For` is skipped only then: with `*` the hop the
    /// peer saw is the client).
    public func listsExplicitly(_ address: String) -> Bool {
        guard let bytes = Self.bytes(address) else { return false }
        let alternatives = [bytes] + (Self.mappedIPv4(bytes).map { [$0] } ?? [])
        return ranges.contains { range in alternatives.contains { range.contains($0) } }
    }

    static func parse(_ entry: String) -> Range? {
        let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let bytes = bytes(parts[0]) else { return nil }
        let maxBits = bytes.count * 8
        guard parts.count == 2 else { return Range(bytes: bytes, prefixLength: maxBits) }
        guard !parts[1].isEmpty, parts[1].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isNumber),
            let bits = Int(parts[1]), bits <= maxBits
        else { return nil }
        return Range(bytes: bytes, prefixLength: bits)
    }

    /// The 4 or 16 bytes of a numeric address, or nil.
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// The IPv4 address inside an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    static func mappedIPv4(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count == 16, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF else { return nil }
        return Array(bytes[12..<16])
    }
}
