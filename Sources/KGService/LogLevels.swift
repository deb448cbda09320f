import Logging

/// `log_level` (every component) and `log_levels` ("broker=debug,http=warning":
/// components by name, with or without the `kg-` prefix).
public struct LogLevels: Sendable, Equatable {
    public let defaultLevel: Logger.Level
    public let components: [String: Logger.Level]

    static let fallback = LogLevels(defaultLevel: .info, components: [:])
    static let levelNames = Logger.Level.allCases.map(\.rawValue)

    init(defaultLevel: Logger.Level, components: [String: Logger.Level]) {
        self.defaultLevel = defaultLevel
        self.components = components
    }

    /// Parses both settings; the error names the bad part and the accepted values.
    public init(default text: String, perComponent list: String) throws {
        defaultLevel = try Self.parseLevel(text, key: "log_level")
        var components: [String: Logger.Level] = [:]
        let known = LogComponent.all.map(Self.shortName)
        for item in list.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ConfigError("log_levels: \"\(item)\" is not component=level (e.g. \"broker=debug,http=warning\")")
            }
            let name = Self.shortName(parts[0])
            guard known.contains(name) else {
                throw ConfigError("log_levels: unknown component \"\(parts[0])\"; components: \(known.joined(separator: ", "))")
            }
            components[name] = try Self.parseLevel(parts[1], key: "log_levels (\(name))")
        }
        self.components = components
    }

    /// The level of a logger with this label.
    public func level(for label: String) -> Logger.Level {
        components[Self.shortName(label)] ?? defaultLevel
    }

    static func shortName(_ label: String) -> String {
        let lower = label.lowercased()
        return lower.hasPrefix("kg-") ? String(lower.dropFirst(3)) : lower
    }

    static func parseLevel(_ text: String, key: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: text.lowercased().trimmingCharacters(in: .whitespaces)) else {
            throw ConfigError("\(key) must be one of \(levelNames.joined(separator: ", ")), got \"\(text)\"")
        }
        return level
    }
}
