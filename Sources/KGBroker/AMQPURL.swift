/// A parsed `amqp://user:password@host:port/vhost` URL.
///
/// Parts are percent-decoded; the port defaults to 5672, user and password to `guest`, and the
/// vhost to `/` when the path is empty or `%2f`. `description` hides the password, so the value
/// is safe to log.
///
/// ```swift
/// let url = try AMQPURL("amqp://kg:s%40cret@rabbit:5672/%2f")
/// print(url)          // amqp://kg:***@rabbit:5672/%2F
/// url.password        // "s@cret"
/// ```
public struct AMQPURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String
    public var host: String
    public var port: Int
    public var vhost: String

    public init(user: String = "guest", password: String = "guest", host: String, port: Int = 5672, vhost: String = "/") {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.vhost = vhost
    }

    /// Parses a URL string; throws `BrokerError.invalidURL` with the reason.
    public init(_ string: String) throws {
        let text = string.trimmingSpaces()
        let scheme = "amqp://"
        guard text.lowercased().hasPrefix(scheme) else {
            if text.lowercased().hasPrefix("amqps://") {
                throw BrokerError.invalidURL("amqps (TLS) is not supported yet")
            }
            throw BrokerError.invalidURL("'\(Self.redact(text))' does not start with amqp://")
        }
        var rest = Substring(text.dropFirst(scheme.count))
        // Query parameters (heartbeat=…) are not used; drop them and any fragment.
        if let q = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<q] }

        let authority: Substring
        let path: Substring?
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            authority = rest
            path = nil
        }

        var user = "guest"
        var password = "guest"
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon], "user")
                password = try Self.decode(userInfo[userInfo.index(after: colon)...], "password")
            } else {
                user = try Self.decode(userInfo, "user")
                password = ""
            }
        }

        var host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {  // IPv6 literal
            guard let close = hostPort.firstIndex(of: "]") else {
                throw BrokerError.invalidURL("unterminated IPv6 address in '\(hostPort)'")
            }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                portText = after.dropFirst()
            } else if !after.isEmpty {
                throw BrokerError.invalidURL("unexpected '\(after)' after the IPv6 address")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }
        guard !host.isEmpty else { throw BrokerError.invalidURL("no host in '\(Self.redact(text))'") }

        var port = 5672
        if let portText, !portText.isEmpty {
            guard let p = Int(portText), (1...65535).contains(p) else {
                throw BrokerError.invalidURL("port '\(portText)' is not a number between 1 and 65535")
            }
            port = p
        }

        var vhost = "/"
        if let path, !path.isEmpty {
            guard !path.contains("/") else {
                throw BrokerError.invalidURL("a vhost containing '/' must be written as %2F ('\(path)')")
            }
            vhost = try Self.decode(path, "vhost")
        }
        self.init(user: user, password: password, host: try Self.decode(host, "host"), port: port, vhost: vhost)
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "amqp://\(Self.encode(user)):***@\(hostPart):\(port)/\(Self.encode(vhost))"
    }

    private static func decode(_ part: Substring, _ what: String) throws -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(part.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard utf8.count >= 2, let hi = hexValue(utf8.removeFirst()), let lo = hexValue(utf8.removeFirst()) else {
                    throw BrokerError.invalidURL("bad percent-encoding in the \(what)")
                }
                bytes.append(hi << 4 | lo)
            } else {
                bytes.append(byte)
            }
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw BrokerError.invalidURL("the \(what) is not valid UTF-8 after percent-decoding")
        }
        return s
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    private static func encode(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            let c = Character(Unicode.Scalar(byte))
            if byte < 0x80, c.isLetter || c.isNumber || "-._~".contains(c) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Hides a password in text that failed to parse, so error messages never show it.
    private static func redact(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text.lastIndex(of: "@"), at > schemeEnd.upperBound else {
            return text
        }
        let userInfo = text[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(
            self.drop(while: { $0 == " " || $0 == "\n" || $0 == "\t" }).reversed()
                .drop(while: { $0 == " " || $0 == "\n" || $0 == "\t" }).reversed())
    }

    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
