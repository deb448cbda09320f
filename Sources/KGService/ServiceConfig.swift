import Foundation

/// Settings shared by `kg-gateway` and `kg-worker`: a JSON config file
/// (`--config`, else `KG_CONFIG`), then environment overrides (`KG_*`), then defaults.
///
/// Every key, its variable and its default is listed in ``ServiceConfig/documentation``
/// and printed by `--help`.
public struct ServiceConfig: Sendable {
    public var databaseURL = "postgresql://kg@127.0.0.1:55432/kg"
    public var amqpURL = "amqp://guest:guest@127.0.0.1:55672/%2f"
    /// The nodes of a RabbitMQ cluster (`amqp_urls`, comma-separated); when set, it replaces
    /// `amqp_url`. Gateways and workers connect to one node and move to another when it is lost.
    public var amqpURLs: [String] = []
    /// Prefix of every exchange and queue name, so that stacks and tests can share a broker.
    public var brokerPrefix = "kg"
    public var tempDir = "/var/tmp/kg"
    /// `x-queue-type` of the job queue: "classic" or "quorum". Every gateway and worker of a
    /// deployment must agree (and match a definitions file), or declarations fail.
    public var brokerQueueType = "classic"
    /// Files holding the database and broker passwords: they replace the password of the URL,
    /// so that secrets stay out of config files, command lines and `ps`.
    public var databasePasswordFile: String?
    public var amqpPasswordFile: String?
    public var migrationsDir = "schema/migrations"
    public var logLevel = "info"
    /// Per-component levels, "broker=debug,http=warning" (components: ``LogComponent``).
    public var logLevels = ""
    // Gateway
    public var host = "127.0.0.1"
    public var port = 8080
    public var dbPoolSize = 8
    public var tokenTTLHours = 24 * 7
    /// Largest accepted upload (413 beyond it).
    public var maxUploadBytes = 8 * 1024 * 1024 * 1024
    /// Largest decompressed size of a gzip upload (a gzip bomb is refused, not unpacked).
    public var maxDecompressedBytes = 64 * 1024 * 1024 * 1024
    /// Memory of one integrity check's id facts (duplicates, references) before they
    /// spill to a temp file in `tempDir` (gateway uploads, worker restores).
    public var idCheckMemoryBytes = 16 * 1024 * 1024
    /// Queued plus running jobs one user may have; another job is refused with 429 (0: no limit).
    public var maxJobsPerUser = 4
    /// Backup checks (`POST /admin/backup/verify`) one user may run at once on a gateway; more: 429 (0: no limit).
    public var maxVerifiesPerUser = 1
    /// Backup checks a gateway runs at once (CPU-bound: about one per core); more: 503 (0: no limit).
    public var maxConcurrentVerifies = 2
    /// Largest body of `POST /admin/stitch` (the missing concepts' labels and embeddings); 413 beyond it.
    public var maxStitchBytes = 256 * 1024 * 1024
    /// An HTTP connection that sends nothing this long (between requests, or in the middle of a
    /// request's head or body) is closed; a response being written is never cut (0: no limit).
    public var httpIdleTimeoutSeconds = 60.0
    /// A connection must deliver a whole request (its head, and its body unless that is an
    /// upload) within this time of opening or of its previous exchange, or it is closed (0: no limit).
    public var httpRequestTimeoutSeconds = 30.0
    /// Peers whose `X-Forwarded-For` names the client (reverse proxies): IP addresses, or "*"
    /// for any peer (only when nothing but the proxy can reach the gateway). Empty: the header is ignored.
    public var trustedProxies: [String] = []
    /// Failed logins from one client address within ``loginFailureWindowSeconds`` before
    /// `/auth/token` answers that address 429 with `Retry-After` (0: no limit).
    public var loginMaxFailuresPerAddress = 20
    /// Failed logins for one user name (existing or not) within the window before 429 (0: no limit).
    public var loginMaxFailuresPerUser = 10
    /// The window over which failed logins are counted (seconds).
    public var loginFailureWindowSeconds = 300.0
    /// Seconds `/metrics` reuses what it read from the jobs table (0: read at every scrape).
    public var metricsCacheSeconds = 5.0
    /// Audit records older than this many days are deleted by the gateways (0: kept for ever).
    public var auditRetentionDays = 0.0
    public var adminUsername: String?
    public var adminPassword: String?
    /// A file holding the first admin's password; replaces `admin_password`.
    public var adminPasswordFile: String?
    /// HTTPS: PEM certificate (chain) and private key; both or neither.
    public var tlsCertificateFile: String?
    public var tlsPrivateKeyFile: String?
    /// The oldest TLS version the gateway accepts: "1.2" (default) or "1.3".
    public var tlsMinimumVersion = "1.2"
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
    /// A backup job's file stays in temp storage this long after its last write or read, for
    /// `Range` downloads (`kg admin backup --resume`); 0: removed after one complete download,
    /// and a client that leaves mid-download cancels the job (the behaviour before issue 18).
    public var backupResumeWindowSeconds = 3600.0
    /// A resumable restore upload with no new byte for this long has expired (its files are removed).
    public var restoreUploadWindowSeconds = 3600.0
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
        ("database_password_file", "KG_DATABASE_PASSWORD_FILE", "file holding the database password; replaces any password in database_url"),
        ("amqp_urls", "KG_AMQP_URLS", "RabbitMQ cluster nodes, comma-separated amqp:// URLs; replaces amqp_url (a node lost: reconnect to another)"),
        ("amqp_password_file", "KG_AMQP_PASSWORD_FILE", "file holding the broker password; replaces the password in amqp_url / amqp_urls"),
        ("broker_prefix", "KG_BROKER_PREFIX", "prefix of exchange and queue names (default kg)"),
        ("broker_queue_type", "KG_BROKER_QUEUE_TYPE", "job queue type, classic or quorum; the same for every gateway and worker (default classic)"),
        ("temp_dir", "KG_TEMP_DIR", "temp storage shared by gateways and workers (default /var/tmp/kg)"),
        ("migrations_dir", "KG_MIGRATIONS_DIR", "folder of NNN_name.sql migrations (default schema/migrations)"),
        ("log_level", "KG_LOG_LEVEL", "trace, debug, info, notice, warning, error, critical (default info)"),
        ("log_levels", "KG_LOG_LEVELS", "level per component, e.g. \"broker=debug,http=warning\" (gateway, worker, broker, http, migrate)"),
        ("host", "KG_GATEWAY_HOST", "gateway listen address (default 127.0.0.1)"),
        ("port", "KG_GATEWAY_PORT", "gateway listen port (default 8080)"),
        ("db_pool_size", "KG_DB_POOL_SIZE", "gateway database connections (default 8)"),
        ("token_ttl_hours", "KG_TOKEN_TTL_HOURS", "lifetime of login tokens (default 168)"),
        ("max_upload_bytes", "KG_MAX_UPLOAD_BYTES", "largest accepted restore upload (default 8 GiB; 413 beyond)"),
        ("max_decompressed_bytes", "KG_MAX_DECOMPRESSED_BYTES", "largest decompressed size of a gzip upload (default 64 GiB)"),
        ("id_check_memory_bytes", "KG_ID_CHECK_MEMORY_BYTES", "memory of one integrity check's id facts (duplicate ids, references) before they spill to a temp file in temp_dir; the answers are the same (default 16777216)"),
        ("max_jobs_per_user", "KG_MAX_JOBS_PER_USER", "queued + running jobs per user; more are refused with 429 and Retry-After (default 4; 0 no limit)"),
        ("login_max_failures_per_address", "KG_LOGIN_MAX_FAILURES_PER_ADDRESS", "failed logins from one client address within login_failure_window_s before /auth/token answers 429 with Retry-After (default 20; 0 no limit)"),
        ("login_max_failures_per_user", "KG_LOGIN_MAX_FAILURES_PER_USER", "failed logins for one user name, existing or not, within login_failure_window_s before 429 (default 10; 0 no limit)"),
        ("login_failure_window_s", "KG_LOGIN_FAILURE_WINDOW", "seconds over which failed logins are counted (default 300)"),
        ("metrics_cache_s", "KG_METRICS_CACHE", "seconds /metrics reuses what it read from the jobs table, so that frequent scrapes cost nothing (default 5; 0 read every scrape)"),
        ("max_verifies_per_user", "KG_MAX_VERIFIES_PER_USER", "backup checks (POST /admin/backup/verify) one user may run at once on a gateway; more are refused with 429 and Retry-After (default 1; 0 no limit)"),
        ("max_concurrent_verifies", "KG_MAX_CONCURRENT_VERIFIES", "backup checks a gateway runs at once, on as many threads (CPU-bound: about one per core); more are refused with 503 and Retry-After (default 2; 0 no limit)"),
        ("max_stitch_bytes", "KG_MAX_STITCH_BYTES", "largest body of POST /admin/stitch (labels and embeddings of missing concepts; default 256 MiB; 413 beyond)"),
        ("audit_retention_days", "KG_AUDIT_RETENTION_DAYS", "delete audit records older than this many days, checked hourly by each gateway (default 0: keep them for ever)"),
        ("trusted_proxies", "KG_TRUSTED_PROXIES", "comma-separated proxy addresses or CIDR ranges (10.0.0.0/8) whose X-Forwarded-For names the client in the audit trail, or * for any peer (default none: the header is ignored)"),
        ("http_idle_timeout_s", "KG_HTTP_IDLE_TIMEOUT", "close a connection idle this long, also mid-request (slow clients); responses are never cut (default 60; 0 off)"),
        ("http_request_timeout_s", "KG_HTTP_REQUEST_TIMEOUT", "close a connection that has not sent a whole request this long after opening or its previous answer (trickling slow-loris); upload bodies are exempt (default 30; 0 off)"),
        ("admin_username", "KG_ADMIN_USERNAME", "first admin, created at start when there is no user"),
        ("admin_password", "KG_ADMIN_PASSWORD", "its password (better: admin_password_file)"),
        ("admin_password_file", "KG_ADMIN_PASSWORD_FILE", "file holding the first admin's password; replaces admin_password"),
        ("tls_certificate_file", "KG_TLS_CERTIFICATE_FILE", "gateway HTTPS: PEM certificate chain (with tls_private_key_file; default: plain HTTP)"),
        ("tls_private_key_file", "KG_TLS_PRIVATE_KEY_FILE", "gateway HTTPS: PEM private key of that certificate"),
        ("tls_minimum_version", "KG_TLS_MINIMUM_VERSION", "gateway HTTPS: oldest TLS version accepted, 1.2 or 1.3 (default 1.2)"),
        ("worker_id", "KG_WORKER_ID", "this worker's name in job rows (default host-pid)"),
        ("heartbeat_interval_s", "KG_HEARTBEAT_INTERVAL", "seconds between a running job's heartbeats (default 1)"),
        ("heartbeat_timeout_s", "KG_HEARTBEAT_TIMEOUT", "seconds without heartbeat before a job counts as abandoned (default 30)"),
        ("progress_interval_s", "KG_PROGRESS_INTERVAL", "minimum seconds between progress events (default 0.25)"),
        ("max_attempts", "KG_MAX_ATTEMPTS", "attempts before a job is dead-lettered and failed (default 3)"),
        ("broker_heartbeat_s", "KG_BROKER_HEARTBEAT", "AMQP heartbeat in seconds; a frozen worker's job is redelivered after about twice this (default 10)"),
        ("upload_idle_timeout_s", "KG_UPLOAD_IDLE_TIMEOUT", "an upload or backup file untouched this long has lost its owner and is removed (default 600)"),
        ("backup_resume_window_s", "KG_BACKUP_RESUME_WINDOW",
         "a finished backup file is kept this long after its last write or read, for resumed downloads (default 3600; 0: removed after one download)"),
        ("restore_upload_window_s", "KG_RESTORE_UPLOAD_WINDOW", "an unfinished resumable restore upload expires this long after its last byte (default 3600)"),
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
                // A list (amqp_urls may be written as a JSON array): comma-separated, like the variable.
                if let list = value as? [Any] { return list.map { "\($0)" }.joined(separator: ",") }
                return "\(value)"
            }, source: file, byEnv: false)
        }
        var fromEnv: [String: String] = [:]
        for entry in documentation {
            if let value = environment[entry.env], !value.isEmpty { fromEnv[entry.key] = value }
        }
        try config.apply(fromEnv, source: "environment", byEnv: true)
        try config.readSecretFiles()
        return config
    }

    /// Environment variable names of every setting (deployment files may use only these).
    public static var environmentNames: Set<String> { Set(documentation.map(\.env)) }

    /// Reads the `*_password_file` settings, once every source has been applied: a file
    /// always wins over a password given inline, whichever source gave it.
    private mutating func readSecretFiles() throws {
        if let file = adminPasswordFile { adminPassword = try Self.readSecret(file, key: "admin_password_file") }
        if let file = databasePasswordFile {
            databaseURL = try SecretURL.replacingPassword(in: databaseURL, with: Self.readSecret(file, key: "database_password_file"),
                                                          key: "database_url")
        }
        if let file = amqpPasswordFile {
            let password = try Self.readSecret(file, key: "amqp_password_file")
            amqpURL = try SecretURL.replacingPassword(in: amqpURL, with: password, key: "amqp_url")
            amqpURLs = try amqpURLs.map { try SecretURL.replacingPassword(in: $0, with: password, key: "amqp_urls") }
        }
    }

    /// The first line of a secret file (a trailing newline is not part of the secret).
    static func readSecret(_ path: String, key: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("cannot read \(key) \(path): check the path and that this user may read the file")
        }
        let secret = String(text.prefix { !$0.isNewline })
        guard !secret.isEmpty else { throw ConfigError("\(key) \(path) is empty: write the password on its first line") }
        return secret
    }

    /// The broker nodes to use: `amqp_urls` when set, else `amqp_url` alone.
    public var brokerURLs: [String] { amqpURLs.isEmpty ? [amqpURL] : amqpURLs }

    /// What a service logs about its settings at startup: URLs with their passwords masked.
    public var loggableSummary: [String: String] {
        ["database": SecretRedaction.url(databaseURL), "broker": brokerURLs.map(SecretRedaction.url).joined(separator: ","),
         "broker_prefix": brokerPrefix, "queue_type": brokerQueueType, "temp_dir": tempDir]
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
            case "amqp_urls":
                amqpURLs = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            case "broker_prefix": brokerPrefix = value
            case "broker_queue_type":
                guard value == "classic" || value == "quorum" else {
                    throw ConfigError("broker_queue_type in \(source) must be classic or quorum, got \"\(value)\"")
                }
                brokerQueueType = value
            case "database_password_file": databasePasswordFile = value
            case "amqp_password_file": amqpPasswordFile = value
            case "temp_dir": tempDir = value
            case "migrations_dir": migrationsDir = value
            case "log_level":
                _ = try LogLevels(default: value, perComponent: "")
                logLevel = value
            case "log_levels":
                _ = try LogLevels(default: "info", perComponent: value)
                logLevels = value
            case "tls_certificate_file": tlsCertificateFile = value
            case "tls_private_key_file": tlsPrivateKeyFile = value
            case "tls_minimum_version":
                guard ["1.2", "1.3"].contains(value) else {
                    throw ConfigError("tls_minimum_version must be 1.2 or 1.3, not \"\(value)\" (TLS 1.0 and 1.1 are not offered)")
                }
                tlsMinimumVersion = value
            case "host": host = value
            case "port": port = Int(try number(key, value))
            case "db_pool_size": dbPoolSize = Int(try number(key, value))
            case "token_ttl_hours": tokenTTLHours = Int(try number(key, value))
            case "max_upload_bytes": maxUploadBytes = Int(try number(key, value))
            case "max_decompressed_bytes": maxDecompressedBytes = Int(try number(key, value))
            case "max_jobs_per_user": maxJobsPerUser = Int(try number(key, value))
            case "login_max_failures_per_address": loginMaxFailuresPerAddress = Int(try number(key, value))
            case "login_max_failures_per_user": loginMaxFailuresPerUser = Int(try number(key, value))
            case "login_failure_window_s":
                loginFailureWindowSeconds = try number(key, value)
                guard loginFailureWindowSeconds > 0 else { throw ConfigError("login_failure_window_s in \(source) must be more than 0 seconds, got \(value)") }
            case "metrics_cache_s": metricsCacheSeconds = try number(key, value)
            case "max_verifies_per_user": maxVerifiesPerUser = Int(try number(key, value))
            case "max_concurrent_verifies": maxConcurrentVerifies = Int(try number(key, value))
            case "max_stitch_bytes": maxStitchBytes = Int(try number(key, value))
            case "id_check_memory_bytes":
                idCheckMemoryBytes = Int(try number(key, value))
                guard idCheckMemoryBytes >= 1 else { throw ConfigError("id_check_memory_bytes in \(source) must be a positive number of bytes, got \(value)") }
            case "http_idle_timeout_s": httpIdleTimeoutSeconds = try number(key, value)
            case "http_request_timeout_s": httpRequestTimeoutSeconds = try number(key, value)
            case "audit_retention_days":
                auditRetentionDays = try number(key, value)
                guard auditRetentionDays >= 0 else { throw ConfigError("audit_retention_days in \(source) must be 0 (keep for ever) or a number of days, got \(value)") }
            case "trusted_proxies":
                trustedProxies = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                do {
                    _ = try TrustedProxies(trustedProxies)
                } catch let error as ConfigError {
                    throw ConfigError("\(error.description) (in \(source))")
                }
            case "admin_username": adminUsername = value
            case "admin_password": adminPassword = value
            case "admin_password_file": adminPasswordFile = value
            case "worker_id": workerID = value
            case "heartbeat_interval_s": heartbeatIntervalSeconds = try number(key, value)
            case "heartbeat_timeout_s": heartbeatTimeoutSeconds = try number(key, value)
            case "progress_interval_s": progressIntervalSeconds = try number(key, value)
            case "max_attempts": maxAttempts = Int(try number(key, value))
            case "broker_heartbeat_s": brokerHeartbeatSeconds = Int(try number(key, value))
            case "upload_idle_timeout_s": uploadIdleTimeoutSeconds = try number(key, value)
            case "backup_resume_window_s": backupResumeWindowSeconds = try number(key, value)
            case "restore_upload_window_s": restoreUploadWindowSeconds = try number(key, value)
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
            "  \($0.key.padding(toLength: 22, withPad: " ", startingAt: 0)) \($0.env.padding(toLength: 26, withPad: " ", startingAt: 0)) \($0.help)"
        }.joined(separator: "\n")
    }
}

/// A configuration problem, with what to fix.
public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
