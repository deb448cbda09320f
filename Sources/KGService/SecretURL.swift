/// Passwords inside service URLs (`postgresql://…`, `amqp://…`): put one in from a secret file
/// (masking for logs is ``SecretRedaction/url(_:)``).
///
/// ```swift
/// try SecretURL.replacingPassword(in: "postgresql://kg@db:5432/kg", with: "p@ss", key: "database_url")
/// // "postgresql://kg:p%40ss@db:5432/kg"
/// ```
public enum SecretURL {
    /// `url` with its password set to `password` (percent-encoded), the user kept.
    public static func replacingPassword(in url: String, with password: String, key: String) throws -> String {
        guard let parts = Parts(url) else {
            throw ConfigError("\(key) must be a URL (scheme://user@host:port/...) when a password file is set, got \"\(SecretRedaction.url(url))\"")
        }
        return parts.scheme + "://" + parts.user + ":" + percentEncoded(password) + "@" + parts.hostAndRest
    }

    private static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let isUnreserved =
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x2D || byte == 0x2E || byte == 0x5F || byte == 0x7E
            if isUnreserved {
                out.append(Character(Unicode.Scalar(byte)))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// scheme :// [user [: password] @] host-and-rest (the password is dropped: it is replaced)
    private struct Parts {
        var scheme: String
        var user: String
        var hostAndRest: String

        init?(_ url: String) {
            guard let separator = url.range(of: "://") else { return nil }
            scheme = String(url[..<separator.lowerBound])
            guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else { return nil }
            let afterScheme = url[separator.upperBound...]
            let authorityEnd = afterScheme.firstIndex(where: { "/?#".contains($0) }) ?? afterScheme.endIndex
            let authority = afterScheme[..<authorityEnd]
            if let at = authority.lastIndex(of: "@") {
                let userInfo = authority[..<at]
                user = String(userInfo[..<(userInfo.firstIndex(of: ":") ?? userInfo.endIndex)])
                hostAndRest = String(afterScheme[afterScheme.index(after: at)...])
            } else {
                user = ""
                hostAndRest = String(afterScheme)
            }
        }
    }
}
