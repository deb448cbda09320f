import Foundation
import KGDatabase

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
        PGConnection.redacted(text)
    }

    /// Every secret value in `config`: the passwords of the database and broker URLs, and the first admin's.
    public static func secrets(of config: ServiceConfig) -> [String] {
        var found: [String] = []
        for text in [config.databaseURL, config.amqpURL] + config.amqpURLs {
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
}
