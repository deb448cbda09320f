import Foundation
import Logging

/// One-time logging setup for a service: standard error, a level per component
/// (the logger's label: `gateway`, `worker`, `broker`, `http`, `migrate`), and
/// every known secret replaced by `***` in messages and metadata.
///
/// ```swift
/// LogSetup.bootstrap(config: config)
/// let logger = Logger(label: LogComponent.gateway)
/// ```
public enum LogSetup {
    public static func bootstrap(config: ServiceConfig) {
        let levels =
            (try? LogLevels(default: config.logLevel, perComponent: config.logLevels))
            ?? LogLevels.fallback
        bootstrap(levels: levels, secrets: SecretRedaction.secrets(of: config))
    }

    /// Kept for callers that know only one level.
    public static func bootstrap(level: String) {
        bootstrap(levels: (try? LogLevels(default: level, perComponent: "")) ?? LogLevels.fallback, secrets: [])
    }

    static func bootstrap(levels: LogLevels, secrets: [String]) {
        LoggingSystem.bootstrap { label in
            var handler = RedactingLogHandler(base: StreamLogHandler.standardError(label: label), secrets: secrets)
            handler.logLevel = levels.level(for: label)
            return handler
        }
    }
}

/// The labels of the services' loggers; `log_levels` names them without the `kg-` prefix.
public enum LogComponent {
    public static let gateway = "kg-gateway"
    public static let worker = "kg-worker"
    public static let broker = "kg-broker"
    /// Hummingbird's own request and server messages.
    public static let http = "kg-http"
    public static let migrate = "kg-migrate"
    public static let all = [gateway, worker, broker, http, migrate]
}
