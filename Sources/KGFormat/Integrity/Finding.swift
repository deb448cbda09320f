/// One thing the integrity check found: its severity, its category, and a
/// message for people.
///
/// ```swift
/// Finding(.error, .references, "instance i12 names source s9, which the file does not contain")
/// ```
public struct Finding: Sendable, Codable, Equatable, CustomStringConvertible {
    /// Errors make a file invalid; warnings and info never do.
    public enum Severity: String, Sendable, Codable, Comparable {
        case error, warning, info

        public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
        private var rank: Int { self == .error ? 0 : self == .warning ? 1 : 2 }
    }

    /// The categories of BACKUP_FORMAT.md "Integrity rules"; raw values are
    /// what `kg admin verify --json` prints.
    public enum Category: String, Sendable, Codable {
        case format, references, consistency, vocabulary, info
        case externalDeps = "external_deps"
    }

    public let severity: Severity
    public let category: Category
    /// What was found, naming the records involved.
    public let message: String

    public init(_ severity: Severity, _ category: Category, _ message: String) {
        self.severity = severity
        self.category = category
        self.message = message
    }

    /// `error [references] instance i12 names source s9, …`
    public var description: String {
        "\(severity.rawValue) [\(category.rawValue)] \(message)"
    }
}
