import Foundation

/// Finds the secrets in a configuration and hides them in URLs, so that logs
/// and messages can name a database or broker without its password.
///
/// ```swift
/// SecretRedaction.url("postgresql://kg:s3cret@db:5432/kg")  // "postgresql://kg:***@db:5432/kg"
/// ```
public enum SecretRedaction {
    /// Shorter values are not treated as secrets in free text (they would blank out ordinary words).
    public static let minimumLength = 4

    /// The URL with its password (userinfo, a `password=` query parameter, or a
    /// libpq `password=` key/value setting) replaced by `***`.
    public static func url(_ text: String) -> String {
        var result = text
        if text.contains("://"), var components = URLComponents(string: text) {
            if components.password != nil { components.password = "***" }
            if let items = components.queryItems, items.contains(where: { $0.name.lowercased() == "password" }) {
                components.queryItems = items.map { $0.name.lowercased() == "password" ? URLQueryItem(name: $0.name, value: "***") : $0 }
            }
            result = components.string ?? text
        } else if text.contains("://"), let at = text.range(of: "@"), let scheme = text.range(of: "://"),
                  let colon = text[scheme.upperBound..<at.lowerBound].firstIndex(of: ":") {
            // Not parsable as a URL: cut the userinfo's password by hand.
            result = String(text[..<text.index(after: colon)]) + "***" + String(text[at.lowerBound...])
        }
        // libpq key/value form: "host=db password=secret dbname=kg".
        return maskKeyValuePassword(result)
    }

    /// Every secret value in `config`: the passwords of the database and broker URLs, and the first admin's.
    public static func secrets(of config: ServiceConfig) -> [String] {
        var found: [String] = []
        for text in [config.databaseURL, config.amqpURL] {
            if let components = URLComponents(string: text) {
                // Both spellings: the URL as written, and the password it means.
                for password in [components.percentEncodedPassword, components.password].compactMap({ $0 }) where !password.isEmpty {
                    found.append(password)
                }
                for item in components.queryItems ?? [] where item.name.lowercased() == "password" {
                    if let value = item.value, !value.isEmpty { found.append(value) }
                }
            }
            found.append(contentsOf: keyValuePasswords(text))
        }
        if let admin = config.adminPassword, !admin.isEmpty { found.append(admin) }
        return Array(Set(found)).filter { $0.count >= minimumLength && $0 != "***" }
    }

    private static func keyValuePasswords(_ text: String) -> [String] {
        guard !text.contains("://") else { return [] }
        return text.split(separator: " ").compactMap { part in
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].lowercased() == "password" else { return nil }
            return String(pair[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'"))
        }
    }

    private static func maskKeyValuePassword(_ text: String) -> String {
        guard !text.contains("://") else { return text }
        return text.split(separator: " ", omittingEmptySubsequences: false).map { part -> String in
            let pair = part.split(separator: "=", maxSplits: 1)
            return pair.count == 2 && pair[0].lowercased() == "password" ? "\(pair[0])=***" : String(part)
        }.joined(separator: " ")
    }
}
