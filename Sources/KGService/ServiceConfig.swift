import Foundation

/// Settings shared by `kg-gateway` and `kg-worker`: a JSON config file
/// (`--config`, else `KG_CONFIG`), then environment overrides (`KG_*`), then defaults.
///
/// Every key, its variable and its default is listed in ``ServiceConfig/documentation``
/// and printed by `--help`.
public struct ServiceConfig: Sendable {
    public var databaseURL = "postgresql://kg@127.0.0.1:55432/kg"
    public var amqpURL = "amqp://guest:guest@127.0.0.1:55672/%2f"
    /// Prefix of every exchange and queue name, so that stacks and tests can share a broker.
    public var brokerPrefix = "kg"
    public var tempDir = "/var/tmp/kg"
    public var migrationsDir = "schema/migrations"
    public var logLevel = "info"
    // Gateway
    public var host = "127.0.0.1"
    public var port = 8080
    public var dbPoolSize = 8
    public var tokenTTLHours = 24 * 7
    /// Largest accepted upload (413 beyond it).
    public var maxUploadBytes = 8 * 1024 * 1024 * 1024
    /// Largest decompressed size of a gzip upload (a gzip bomb is refused, not unpacked).
    public var maxDecompressedBytes = 64 * 1024 * 1024 * 1024
    public var adminUsername: String?
    public var adminPassword: String?
    // Worker
    public var workerID: String = ServiceConfig.defaultWorkerID()
    public var heartbeatIntervalSeconds = 1.0
    /// A running job whose heartbeat is older than this is considered abandoned.
    public var heartbeatTimeoutSeconds = 30.0
    public var progressIntervalSeconds = 0.25
    public var maxAttempts = 3
    /// AMQP heartbeat: the broker notices a dead or frozen peer after about twice this.
    public var brokerHeartbeatSeconds = 10
    /// Upload files that stopped growing this long ago have lost their sender.
    public var uploadIdleTimeoutSeconds = 600.0
    /// Seconds between the gateway's temp storage sweeps (orphans of dead gateways and workers).
    public var janitorIntervalSeconds = 60.0
    public var tempMaxAgeHours = 24.0
    /// After SIGTERM, a worker lets its current job run this long, then hands it back.
    public var shutdownGraceSeconds = 30.0
    /// Test-only: milliseconds a worker sleeps after each exported or restored record,
    /// so that fault tests can act in the middle of a job. 0 (off) unless set.
    public var testRecordDelayMilliseconds = 0.0
    /// Test-only: a worker that loads a concept with this id crashes on the spot
    /// (a poison job). Empty (off) unless set.
    public var testCrashMarker = ""
    /// Failure checkpoints kept for inspection (oldest removed first).
    public var checkpointRetention = 3
    /// `kg admin stitch`: the least cosine similarity for an embedding match.
    public var stitchThreshold = 0.85
    /// Test-only: a risky job fails on purpose right after this stage (e.g. `committing`),
    /// so that tests can check the rollback to its checkpoint. Empty (off) unless set.
    public var testFailAfterStage = ""

    public init() {}

    /// (key, environment variable, meaning) for every setting.
    public static let documentation: [(key: String, env: String, help: String)] = [
        ("database_url", "KG_DATABASE_URL", "PostgreSQL URL (postgresql://user[:password]@host:port/db)"),
        ("amqp_url", "KG_AMQP_URL", "RabbitMQ URL (amqp://user:password@host:port/vhost)"),
        ("broker_prefix", "KG_BROKER_PREFIX", "prefix of exchange and queue names (default kg)"),
        ("temp_dir", "KG_TEMP_DIR", "temp storage shared by gateways and workers (default /var/tmp/kg)"),
        ("migrations_dir", "KG_MIGRATIONS_DIR", "folder of NNN_name.sql migrations (default schema/migrations)"),
        ("log_level", "KG_LOG_LEVEL", "trace, debug, info, notice, warning, error (default info)"),
        ("host", "KG_GATEWAY_HOST", "gateway listen address (default 127.0.0.1)"),
        ("port", "KG_GATEWAY_PORT", "gateway listen port (default 8080)"),
        ("db_pool_size", "KG_DB_POOL_SIZE", "gateway database connections (default 8)"),
        ("token_ttl_hours", "KG_TOKEN_TTL_HOURS", "lifetime of login tokens (default 168)"),
        ("max_upload_bytes", "KG_MAX_UPLOAD_BYTES", "largest accepted restore upload (default 8 GiB; 413 beyond)"),
        ("max_decompressed_bytes", "KG_MAX_DECOMPRESSED_BYTES", "largest decompressed size of a gzip upload (default 64 GiB)"),
        ("admin_username", "KG_ADMIN_USERNAME", "first admin, created at start when there is no user"),
        ("admin_password", "KG_ADMIN_PASSWORD", "its password (or KG_ADMIN_PASSWORD_FILE: a file holding it)"),
        ("worker_id", "KG_WORKER_ID", "this worker's name in job rows (default host-pid)"),
        ("heartbeat_interval_s", "KG_HEARTBEAT_INTERVAL", "seconds between a running job's heartbeats (default 1)"),
        ("heartbeat_timeout_s", "KG_HEARTBEAT_TIMEOUT", "seconds without heartbeat before a job counts as abandoned (default 30)"),
        ("progress_interval_s", "KG_PROGRESS_INTERVAL", "minimum seconds between progress events (default 0.25)"),
        ("max_attempts", "KG_MAX_ATTEMPTS", "attempts before a job is dead-lettered and failed (default 3)"),
        ("broker_heartbeat_s", "KG_BROKER_HEARTBEAT", "AMQP heartbeat in seconds; a frozen worker's job is redelivered after about twice this (default 10)"),
        ("upload_idle_timeout_s", "KG_UPLOAD_IDLE_TIMEOUT", "an upload or backup file untouched this long has lost its owner and is removed (default 600)"),
        ("janitor_interval_s", "KG_JANITOR_INTERVAL", "seconds between the gateway's temp storage sweeps (default 60)"),
        ("temp_max_age_hours", "KG_TEMP_MAX_AGE_HOURS", "the startup sweep removes temp files older than this (default 24)"),
        ("shutdown_grace_s", "KG_SHUTDOWN_GRACE", "after SIGTERM a worker finishes its job within this, else hands it back (default 30)"),
        ("test_record_delay_ms", "KG_TEST_RECORD_DELAY_MS", "TESTS ONLY: slow workers down per record (default 0, off)"),
        ("test_crash_marker", "KG_TEST_CRASH_MARKER", "TESTS ONLY: crash a worker that restores a concept with this id (default off)"),
        ("checkpoint_retention", "KG_CHECKPOINT_RETENTION", "failure checkpoints kept for inspection, oldest removed first (default 3)"),
        ("stitch_threshold", "KG_STITCH_THRESHOLD", "kg admin stitch: least cosine similarity for an embedding match (default 0.85)"),
        ("test_fail_after_stage", "KG_TEST_FAIL_AFTER_STAGE", "TESTS ONLY: a risky job fails on purpose after this stage (default off)"),
    ]

    public static func defaultWorkerID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Loads the file at `path` (if any; else `KG_CONFIG`), then applies the environment.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceConfig {
        var config = ServiceConfig()
        if let file = path ?? environment["KG_CONFIG"] {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ConfigError("cannot read config file \(file): check the path (--config or KG_CONFIG)")
            }
            guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                throw ConfigError("config file \(file) is not a JSON object")
            }
            try config.apply(object.compactMapValues { value -> String? in
                if value is NSNull { return nil }
                return "\(value)"
            }, source: file, byEnv: false)
        }
        var fromEnv: [String: String] = [:]
        for entry in documentation {
            if let value = environment[entry.env], !value.isEmpty { fromEnv[entry.key] = value }
        }
        if fromEnv["admin_password"] == nil, let file = environment["KG_ADMIN_PASSWORD_FILE"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw ConfigError("cannot read KG_ADMIN_PASSWORD_FILE \(file)")
            }
            fromEnv["admin_password"] = text.trimmingCharacters(in: .newlines)
        }
        try config.apply(fromEnv, source: "environment", byEnv: true)
        return config
    }

    private mutating func apply(_ values: [String: String], source: String, byEnv: Bool) throws {
        func number(_ key: String, _ text: String) throws -> Double {
            guard let value = Double(text) else { throw ConfigError("\(key) in \(source) must be a number, got \"\(text)\"") }
            return value
        }
        for (key, value) in values {
            switch key {
            case "database_url": databaseURL = value
            case "amqp_url": amqpURL = value
            case "broker_prefix": brokerPrefix = value
            case "temp_dir": tempDir = value
            case "migrations_dir": migrationsDir = value
            case "log_level": logLevel = value
            case "host": host = value
            case "port": port = Int(try number(key, value))
            case "db_pool_size": dbPoolSize = Int(try number(key, value))
            case "token_ttl_hours": tokenTTLHours = Int(try number(key, value))
            case "max_upload_bytes": maxUploadBytes = Int(try number(key, value))
            case "max_decompressed_bytes": maxDecompressedBytes = Int(try number(key, value))
            case "admin_username": adminUsername = value
            case "admin_password": adminPassword = value
            case "worker_id": workerID = value
            case "heartbeat_interval_s": heartbeatIntervalSeconds = try number(key, value)
            case "heartbeat_timeout_s": heartbeatTimeoutSeconds = try number(key, value)
            case "progress_interval_s": progressIntervalSeconds = try number(key, value)
            case "max_attempts": maxAttempts = Int(try number(key, value))
            case "broker_heartbeat_s": brokerHeartbeatSeconds = Int(try number(key, value))
            case "upload_idle_timeout_s": uploadIdleTimeoutSeconds = try number(key, value)
            case "janitor_interval_s": janitorIntervalSeconds = try number(key, value)
            case "temp_max_age_hours": tempMaxAgeHours = try number(key, value)
            case "shutdown_grace_s": shutdownGraceSeconds = try number(key, value)
            case "test_record_delay_ms": testRecordDelayMilliseconds = try number(key, value)
            case "test_crash_marker": testCrashMarker = value
            case "checkpoint_retention": checkpointRetention = Int(try number(key, value))
            case "test_fail_after_stage": testFailAfterStage = value
            case "stitch_threshold": stitchThreshold = try number(key, value)
            default:
                // Keys starting with "_" are comments (JSON has none).
                if !byEnv && !key.hasPrefix("_") { throw ConfigError("unknown key \"\(key)\" in \(source); known keys: \(Self.documentation.map(\.key).joined(separator: ", "))") }
            }
        }
    }

    /// The `--help` text listing every setting.
    public static var helpText: String {
        "Settings (config file key / environment variable):\n" + documentation.map {
            "  \($0.key.padding(toLength: 22, withPad: " ", startingAt: 0)) \($0.env.padding(toLength: 24, withPad: " ", startingAt: 0)) \($0.help)"
        }.joined(separator: "\n")
    }
}

/// A configuration problem, with what to fix.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
