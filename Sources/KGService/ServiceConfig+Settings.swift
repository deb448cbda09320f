import Foundation

extension ServiceConfig {
    /// Every setting, in `--help` order: its key, variable, help, parsing and checks. The default is
    /// the property's initial value (`--help` appends it). A new setting: a property in
    /// `ServiceConfig.swift`, an entry here, its line in `config/gateway.json` or `config/worker.json`
    /// (`DeployKitTests` checks those files, and the settings README.md and OPERATIONS.md name, against this table).
    public static let settings: [ServiceSetting] = [
        .text("database_url", "KG_DATABASE_URL", \.databaseURL, help: "PostgreSQL URL (postgresql://user[:password]@host:port/db)"),
        .text("amqp_url", "KG_AMQP_URL", \.amqpURL, help: "RabbitMQ URL (amqp://user:password@host:port/vhost)"),
        .optionalText(
            "database_password_file", "KG_DATABASE_PASSWORD_FILE", \.databasePasswordFile,
            help: "file holding the database password; replaces any password in database_url"),
        .list(
            "amqp_urls", "KG_AMQP_URLS", \.amqpURLs,
            help: "RabbitMQ cluster nodes, comma-separated amqp:// URLs; replaces amqp_url (a node lost: reconnect to another)"),
        .optionalText(
            "amqp_password_file", "KG_AMQP_PASSWORD_FILE", \.amqpPasswordFile,
            help: "file holding the broker password; replaces the password in amqp_url / amqp_urls"),
        .text("broker_prefix", "KG_BROKER_PREFIX", \.brokerPrefix, help: "prefix of exchange and queue names"),
        .text(
            "broker_queue_type", "KG_BROKER_QUEUE_TYPE", \.brokerQueueType,
            help: "job queue type, classic or quorum; the same for every gateway and worker",
            check: { value, _, source in
                guard value == "classic" || value == "quorum" else {
                    throw ConfigError("broker_queue_type in \(source) must be classic or quorum, got \"\(value)\"")
                }
            }),
        .text("temp_dir", "KG_TEMP_DIR", \.tempDir, help: "temp storage shared by gateways and workers"),
        .text("migrations_dir", "KG_MIGRATIONS_DIR", \.migrationsDir, help: "folder of NNN_name.sql migrations"),
        .text(
            "log_level", "KG_LOG_LEVEL", \.logLevel, help: "trace, debug, info, notice, warning, error, critical",
            check: { value, _, _ in _ = try LogLevels(default: value, perComponent: "") }),
        .text(
            "log_levels", "KG_LOG_LEVELS", \.logLevels,
            help: "level per component, e.g. \"broker=debug,http=warning\" (gateway, worker, broker, http, migrate)",
            check: { value, _, _ in _ = try LogLevels(default: "info", perComponent: value) }),
        .text("host", "KG_GATEWAY_HOST", \.host, help: "gateway listen address"),
        .integer("port", "KG_GATEWAY_PORT", \.port, help: "gateway listen port"),
        .integer("db_pool_size", "KG_DB_POOL_SIZE", \.dbPoolSize, help: "gateway database connections"),
        .integer("token_ttl_hours", "KG_TOKEN_TTL_HOURS", \.tokenTTLHours, help: "lifetime of login tokens"),
        .integer("max_upload_bytes", "KG_MAX_UPLOAD_BYTES", \.maxUploadBytes, help: "largest accepted restore upload; 413 beyond", bytes: true),
        .integer(
            "max_decompressed_bytes", "KG_MAX_DECOMPRESSED_BYTES", \.maxDecompressedBytes,
            help: "largest decompressed size of a gzip upload", bytes: true),
        .integer(
            "id_check_memory_bytes", "KG_ID_CHECK_MEMORY_BYTES", \.idCheckMemoryBytes,
            help: "memory of one integrity check's id facts (duplicate ids, references) before they spill to a temp file in temp_dir; "
                + "the answers are the same", bytes: true,
            check: { bytes, text, source in
                guard bytes >= 1 else { throw ConfigError("id_check_memory_bytes in \(source) must be a positive number of bytes, got \(text)") }
            }),
        .integer(
            "backup_split_min_concepts", "KG_BACKUP_SPLIT_MIN_CONCEPTS", \.backupSplitMinConcepts,
            help: "worker: a full backup with at least this many concepts exports them on two database connections at once "
                + "(in pieces, the second connection's spooled in temp_dir, two at most; the same file); 0: always one",
            check: { n, text, source in
                guard n >= 0 else { throw ConfigError("backup_split_min_concepts in \(source) must be 0 or more, got \(text)") }
            }),
        .integer(
            "max_jobs_per_user", "KG_MAX_JOBS_PER_USER", \.maxJobsPerUser,
            help: "queued + running jobs per user; more are refused with 429 and Retry-After; 0: no limit"),
        .integer(
            "login_max_failures_per_address", "KG_LOGIN_MAX_FAILURES_PER_ADDRESS", \.loginMaxFailuresPerAddress,
            help: "failed logins from one client address within login_failure_window_s before /auth/token answers 429 with Retry-After; "
                + "0: no limit"),
        .integer(
            "login_max_failures_per_user", "KG_LOGIN_MAX_FAILURES_PER_USER", \.loginMaxFailuresPerUser,
            help: "failed logins for one user name, existing or not, within login_failure_window_s before 429; 0: no limit"),
        .number(
            "login_failure_window_s", "KG_LOGIN_FAILURE_WINDOW", \.loginFailureWindowSeconds,
            help: "seconds over which failed logins are counted",
            check: { seconds, text, source in
                guard seconds > 0 else { throw ConfigError("login_failure_window_s in \(source) must be more than 0 seconds, got \(text)") }
            }),
        .number(
            "metrics_cache_s", "KG_METRICS_CACHE", \.metricsCacheSeconds,
            help: "seconds /metrics reuses what it read from the jobs table, so that frequent scrapes cost nothing; 0: read every scrape"),
        .integer(
            "max_verifies_per_user", "KG_MAX_VERIFIES_PER_USER", \.maxVerifiesPerUser,
            help: "backup checks (POST /admin/backup/verify) one user may run at once on a gateway; more are refused with 429 and "
                + "Retry-After; 0: no limit"),
        .integer(
            "max_concurrent_verifies", "KG_MAX_CONCURRENT_VERIFIES", \.maxConcurrentVerifies,
            help: "backup checks a gateway runs at once, on as many threads (CPU-bound: about one per core); more are refused with 503 "
                + "and Retry-After; 0: no limit"),
        .integer(
            "max_stitch_bytes", "KG_MAX_STITCH_BYTES", \.maxStitchBytes,
            help: "largest body of POST /admin/stitch (labels and embeddings of missing concepts); 413 beyond", bytes: true),
        .number(
            "audit_retention_days", "KG_AUDIT_RETENTION_DAYS", \.auditRetentionDays,
            help: "delete audit records older than this many days, checked hourly by each gateway; 0: keep them for ever",
            check: { days, text, source in
                guard days >= 0 else {
                    throw ConfigError("audit_retention_days in \(source) must be 0 (keep for ever) or a number of days, got \(text)")
                }
            }),
        .list(
            "trusted_proxies", "KG_TRUSTED_PROXIES", \.trustedProxies,
            help: "comma-separated proxy addresses or CIDR ranges (10.0.0.0/8) whose X-Forwarded-For names the client in the audit "
                + "trail, or * for any peer; none: the header is ignored",
            check: { proxies, _, source in
                do {
                    _ = try TrustedProxies(proxies)
                } catch let error as ConfigError {
                    throw ConfigError("\(error.description) (in \(source))")
                }
            }),
        .number(
            "http_idle_timeout_s", "KG_HTTP_IDLE_TIMEOUT", \.httpIdleTimeoutSeconds,
            help: "close a connection idle this long, also mid-request (slow clients); responses are never cut; 0: off"),
        .number(
            "http_request_timeout_s", "KG_HTTP_REQUEST_TIMEOUT", \.httpRequestTimeoutSeconds,
            help: "close a connection that has not sent a whole request this long after opening or its previous answer "
                + "(trickling slow-loris); upload bodies are exempt; 0: off"),
        .optionalText("admin_username", "KG_ADMIN_USERNAME", \.adminUsername, help: "first admin, created at start when there is no user"),
        .optionalText("admin_password", "KG_ADMIN_PASSWORD", \.adminPassword, help: "its password (better: admin_password_file)"),
        .optionalText(
            "admin_password_file", "KG_ADMIN_PASSWORD_FILE", \.adminPasswordFile,
            help: "file holding the first admin's password; replaces admin_password"),
        .optionalText(
            "tls_certificate_file", "KG_TLS_CERTIFICATE_FILE", \.tlsCertificateFile,
            help: "gateway HTTPS: PEM certificate chain (with tls_private_key_file; unset: plain HTTP)"),
        .optionalText(
            "tls_private_key_file", "KG_TLS_PRIVATE_KEY_FILE", \.tlsPrivateKeyFile, help: "gateway HTTPS: PEM private key of that certificate"),
        .text(
            "tls_minimum_version", "KG_TLS_MINIMUM_VERSION", \.tlsMinimumVersion, help: "gateway HTTPS: oldest TLS version accepted, 1.2 or 1.3",
            check: { value, _, _ in
                guard ["1.2", "1.3"].contains(value) else {
                    throw ConfigError("tls_minimum_version must be 1.2 or 1.3, not \"\(value)\" (TLS 1.0 and 1.1 are not offered)")
                }
            }),
        .text("worker_id", "KG_WORKER_ID", \.workerID, help: "this worker's name in job rows").showingDefault("host-pid"),
        .number("heartbeat_interval_s", "KG_HEARTBEAT_INTERVAL", \.heartbeatIntervalSeconds, help: "seconds between a running job's heartbeats"),
        .number(
            "heartbeat_timeout_s", "KG_HEARTBEAT_TIMEOUT", \.heartbeatTimeoutSeconds,
            help: "seconds without heartbeat before a job counts as abandoned"),
        .number("progress_interval_s", "KG_PROGRESS_INTERVAL", \.progressIntervalSeconds, help: "minimum seconds between progress events"),
        .integer("max_attempts", "KG_MAX_ATTEMPTS", \.maxAttempts, help: "attempts before a job is dead-lettered and failed"),
        .integer(
            "broker_heartbeat_s", "KG_BROKER_HEARTBEAT", \.brokerHeartbeatSeconds,
            help: "AMQP heartbeat in seconds; a frozen worker's job is redelivered after about twice this"),
        .number(
            "upload_idle_timeout_s", "KG_UPLOAD_IDLE_TIMEOUT", \.uploadIdleTimeoutSeconds,
            help: "an upload or backup file untouched this long has lost its owner and is removed"),
        .number(
            "backup_resume_window_s", "KG_BACKUP_RESUME_WINDOW", \.backupResumeWindowSeconds,
            help: "a finished backup file is kept this long after its last write or read, for resumed downloads; 0: removed after one download"),
        .number(
            "restore_upload_window_s", "KG_RESTORE_UPLOAD_WINDOW", \.restoreUploadWindowSeconds,
            help: "an unfinished resumable restore upload expires this long after its last byte"),
        .integer(
            "restore_pipeline_min_bytes", "KG_RESTORE_PIPELINE_MIN_BYTES", \.restorePipelineMinBytes,
            help: "a resumable restore upload this long or longer is loaded by a worker while it arrives; -1: never"),
        .number(
            "restore_pipeline_stall_s", "KG_RESTORE_PIPELINE_STALL", \.restorePipelineStallSeconds,
            help: "a restore loading an upload that brings no byte (or no verdict) for this long gives it up; the upload stays"),
        .number(
            "janitor_interval_s", "KG_JANITOR_INTERVAL", \.janitorIntervalSeconds, help: "seconds between the gateway's temp storage sweeps"),
        .number("temp_max_age_hours", "KG_TEMP_MAX_AGE_HOURS", \.tempMaxAgeHours, help: "the startup sweep removes temp files older than this"),
        .number(
            "shutdown_grace_s", "KG_SHUTDOWN_GRACE", \.shutdownGraceSeconds,
            help: "after SIGTERM a worker finishes its job within this, else hands it back"),
        .number(
            "test_record_delay_ms", "KG_TEST_RECORD_DELAY_MS", \.testRecordDelayMilliseconds,
            help: "TESTS ONLY: slow workers down per record; 0: off"),
        .number(
            "test_finish_delay_ms", "KG_TEST_FINISH_DELAY_MS", \.testFinishDelayMilliseconds,
            help: "TESTS ONLY: a backup's worker waits this long after the file's last byte before completing; 0: off"),
        .text(
            "test_crash_marker", "KG_TEST_CRASH_MARKER", \.testCrashMarker,
            help: "TESTS ONLY: crash a worker that restores a concept with this id"),
        .integer(
            "checkpoint_retention", "KG_CHECKPOINT_RETENTION", \.checkpointRetention,
            help: "failure checkpoints kept for inspection, oldest removed first"),
        .number(
            "stitch_threshold", "KG_STITCH_THRESHOLD", \.stitchThreshold,
            help: "kg admin stitch: least cosine similarity for an embedding match"),
        .text(
            "test_fail_after_stage", "KG_TEST_FAIL_AFTER_STAGE", \.testFailAfterStage,
            help: "TESTS ONLY: a risky job fails on purpose after this stage"),
    ]

    /// The entry of a config file key.
    public static func setting(forKey key: String) -> ServiceSetting? { settings.first { $0.key == key } }

    /// Environment variable names of every setting (deployment files may use only these).
    public static var environmentNames: Set<String> { Set(settings.map(\.env)) }

    /// The `--help` text listing every setting.
    public static var helpText: String {
        "Settings (config file key / environment variable: meaning):\n" + settings.map(\.helpLine).joined(separator: "\n")
    }
}
