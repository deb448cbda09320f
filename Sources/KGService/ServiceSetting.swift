import Foundation

/// One setting of ``ServiceConfig``: its config file key, its environment variable, its help,
/// and how a value is parsed, checked and stored. The default is the property's initial value
/// in ``ServiceConfig``, read through the key path, so that it is written once.
///
/// Every setting is one entry of ``ServiceConfig/settings``; the loader, `--help` and the
/// deployment checks (`DeployKitTests`) are derived from that table.
public struct ServiceSetting: Sendable {
    /// A check of a parsed value: `(value, text as given, source)`; throws a ``ConfigError`` naming the problem.
    public typealias Check<Value> = @Sendable (Value, String, String) throws -> Void

    /// The key in a JSON config file (`port`).
    public let key: String
    /// The environment variable that overrides the file (`KG_GATEWAY_PORT`).
    public let env: String
    /// What the setting does, for `--help` (the default is appended).
    public let help: String
    /// Parses the text a file or the environment gave, checks it and stores it; `source` names the file or "environment".
    let store: @Sendable (inout ServiceConfig, _ text: String, _ source: String) throws -> Void
    /// The setting's value in `config`, as `--help` shows it; nil when unset (a setting without default).
    let shown: @Sendable (ServiceConfig) -> String?
    /// Overrides the shown default (a default computed per process, such as the worker id).
    let shownDefault: String?

    /// The default, as `--help` shows it: nil for a setting without one (a secret file, say).
    public var defaultText: String? { shownDefault ?? shown(ServiceConfig()) }

    /// The value `config` holds, as `--help` shows it (for comparing a config file's values with the defaults).
    public func valueText(in config: ServiceConfig) -> String? { shown(config) }

    /// The entry of `--help`: "  port / KG_GATEWAY_PORT: gateway listen port (default 8080)". No
    /// columns: ArgumentParser wraps the text at the terminal's width, without indenting.
    public var helpLine: String {
        let line = "  \(key) / \(env): \(help)"
        return defaultText.map { "\(line) (default \($0))" } ?? line
    }

    // MARK: entries by type

    /// A text setting.
    public static func text(
        _ key: String, _ env: String, _ path: any WritableKeyPath<ServiceConfig, String> & Sendable, help: String,
        shownDefault: String? = nil, check: Check<String>? = nil
    ) -> ServiceSetting {
        ServiceSetting(
            key: key, env: env, help: help,
            store: { config, text, source in
                try check?(text, text, source)
                config[keyPath: path] = text
            }, shown: { $0[keyPath: path].isEmpty ? "none" : $0[keyPath: path] }, shownDefault: shownDefault)
    }

    /// A text setting without default (unset unless given): a file name, a secret.
    public static func optionalText(
        _ key: String, _ env: String, _ path: any WritableKeyPath<ServiceConfig, String?> & Sendable, help: String
    ) -> ServiceSetting {
        ServiceSetting(
            key: key, env: env, help: help, store: { config, text, _ in config[keyPath: path] = text },
            shown: { $0[keyPath: path] }, shownDefault: nil)
    }

    /// A list: comma-separated text (a JSON list in a file arrives joined by commas); blanks are dropped.
    public static func list(
        _ key: String, _ env: String, _ path: any WritableKeyPath<ServiceConfig, [String]> & Sendable, help: String,
        check: Check<[String]>? = nil
    ) -> ServiceSetting {
        ServiceSetting(
            key: key, env: env, help: help,
            store: { config, text, source in
                let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                try check?(items, text, source)
                config[keyPath: path] = items
            }, shown: { $0[keyPath: path].isEmpty ? "none" : $0[keyPath: path].joined(separator: ",") }, shownDefault: nil)
    }

    /// A whole number (written as any JSON number; a fraction is dropped). `bytes` shows the default in KiB/MiB/GiB.
    public static func integer(
        _ key: String, _ env: String, _ path: any WritableKeyPath<ServiceConfig, Int> & Sendable, help: String,
        bytes: Bool = false, check: Check<Int>? = nil
    ) -> ServiceSetting {
        ServiceSetting(
            key: key, env: env, help: help,
            store: { config, text, source in
                let number = try parseNumber(key, text, source)
                guard let value = Int(exactly: number.rounded(.towardZero)) else {
                    throw ConfigError("\(key) in \(source) must be a number, got \"\(text)\"")
                }
                try check?(value, text, source)
                config[keyPath: path] = value
            }, shown: { bytes ? byteSize($0[keyPath: path]) : String($0[keyPath: path]) }, shownDefault: nil)
    }

    /// A number that may have a fraction (seconds, a ratio).
    public static func number(
        _ key: String, _ env: String, _ path: any WritableKeyPath<ServiceConfig, Double> & Sendable, help: String,
        check: Check<Double>? = nil
    ) -> ServiceSetting {
        ServiceSetting(
            key: key, env: env, help: help,
            store: { config, text, source in
                let value = try parseNumber(key, text, source)
                try check?(value, text, source)
                config[keyPath: path] = value
            }, shown: { decimal($0[keyPath: path]) }, shownDefault: nil)
    }

    /// The same entry with the default shown as `text` (a default computed per process).
    public func showingDefault(_ text: String) -> ServiceSetting {
        ServiceSetting(key: key, env: env, help: help, store: store, shown: shown, shownDefault: text)
    }

    // MARK: parsing and showing

    static func parseNumber(_ key: String, _ text: String, _ source: String) throws -> Double {
        guard let value = Double(text), value.isFinite else { throw ConfigError("\(key) in \(source) must be a number, got \"\(text)\"") }
        return value
    }

    /// 300 → "300", 0.25 → "0.25".
    static func decimal(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }

    /// 8589934592 → "8 GiB"; a size that is no whole number of KiB stays in bytes.
    static func byteSize(_ bytes: Int) -> String {
        for (unit, size) in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] where bytes >= size && bytes % size == 0 {
            return "\(bytes / size) \(unit)"
        }
        return "\(bytes)"
    }
}
