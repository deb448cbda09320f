import Foundation

/// The client's address behind trusted reverse proxies: the peer's own address,
/// unless the peer is a trusted proxy, in which case the rightmost address of
/// `X-Forwarded-For` that is not itself a trusted proxy (the one the nearest
/// trusted proxy saw). Anything that is not an IP address is ignored, so a
/// client cannot put text into the audit trail.
///
/// ```swift
/// ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "203.0.113.7, 10.0.0.4",
///                       trusted: try TrustedProxies(["10.0.0.0/24"]))   // "203.0.113.7"
/// ```
public enum ClientAddress {
    public static func resolve(peer: String?, forwardedFor: String?, trusted: TrustedProxies) -> String? {
        guard let peer, trusted.contains(peer), let forwardedFor else { return peer }
        let hops = forwardedFor.prefix(4096).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            guard isIPAddress(hop) else { return peer }
            // "*" trusts any peer, not every hop: the hop the peer saw is the client then.
            if !trusted.listsExplicitly(hop) { return hop }
        }
        return peer
    }

    /// Whether `text` is an IPv4 or IPv6 address in numeric form.
    public static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
