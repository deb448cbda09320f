import Foundation

/// Settings shared by `kg-gateway` and `kg-worker`: a JSON config file
/// (`--config`, else `KG_CONFIG`), then environment overrides (`KG_*`), then defaults.
///
/// A setting is a property here, whose initial value is its default, and one entry in
/// ``ServiceConfig/settings`` (`ServiceConfig+Settings.swift`: key, variable, help, parsing and
/// checks), from which loading, `--help` and the deployment checks derive; plus its line in
/// `config/gateway.json` or `config/worker.json`.
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
    /// A full backup with at least this many concepts exports them on two database
    /// connections at once, in pieces, the second connection's spooled in temp storage (0: always one).
    public var backupSplitMinConcepts = 1000
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
    /// The oldest TLS version the gateway accepts: "1.2" or "1.3".
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
    /// A resumable restore upload at least this long starts its restore job as soon as the file's
    /// metadata is in, and the worker loads while the rest arrives (0: every upload; -1: never).
    public var restorePipelineMinBytes = 0
    /// A pipelined restore gives its upload up after this long without a new byte (or without
    /// the gateway's verdict once all bytes are in); the upload stays for `--resume`.
    public var restorePipelineStallSeconds = 60.0
    /// Seconds between the gateway's temp storage sweeps (orphans of dead gateways and workers).
    public var janitorIntervalSeconds = 60.0
    public var tempMaxAgeHours = 24.0
    /// After SIGTERM, a worker lets its current job run this long, then hands it back.
    public var shutdownGraceSeconds = 30.0
    /// Test-only: milliseconds a worker sleeps after each exported or restored record,
    /// so that fault tests can act in the middle of a job (0: off).
    public var testRecordDelayMilliseconds = 0.0
    /// Test-only: milliseconds a worker waits between a backup's last byte and marking the job
    /// completed, so that tests can download the whole file while the job still runs (0: off).
    public var testFinishDelayMilliseconds = 0.0
    /// Test-only: a worker that loads a concept with this id crashes on the spot
    /// (a poison job; empty: off).
    public var testCrashMarker = ""
    /// Failure checkpoints kept for inspection (oldest removed first).
    public var checkpointRetention = 3
    /// `kg admin stitch`: the least cosine similarity for an embedding match.
    public var stitchThreshold = 0.85
    /// Test-only: a risky job fails on purpose right after this stage (e.g. `committing`),
    /// so that tests can check the rollback to its checkpoint (empty: off).
    public var testFailAfterStage = ""

    public init() {}

    public static func defaultWorkerID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Loads the file at `path` (if any; else `KG_CONFIG`), then applies the environment (a
    /// variable set to "" counts as unset), then reads the secret files.
    public static func load(path: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> ServiceConfig {
        var config = ServiceConfig()
        if let file = path ?? environment["KG_CONFIG"] {
            let values = try fileValues(file)
            // Keys starting with "_" are comments (JSON has none).
            if let unknown = values.keys.filter({ !$0.hasPrefix("_") && setting(forKey: $0) == nil }).min() {
                throw ConfigError("unknown key \"\(unknown)\" in \(file); known keys: \(settings.map(\.key).joined(separator: ", "))")
            }
            for setting in settings {
                if let text = values[setting.key] { try setting.store(&config, text, file) }
            }
        }
        for setting in settings {
            if let text = environment[setting.env], !text.isEmpty { try setting.store(&config, text, "environment") }
        }
        try config.readSecretFiles()
        return config
    }

    /// A config file's values as text, as the environment would give them.
    private static func fileValues(_ file: String) throws -> [String: String] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError("cannot read config file \(file): check the path (--config or KG_CONFIG)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw ConfigError("config file \(file) is not a JSON object")
        }
        return object.compactMapValues { value -> String? in
            if value is NSNull { return nil }
            // A list (amqp_urls may be written as a JSON array): comma-separated, like the variable.
            if let list = value as? [Any] { return list.map { "\($0)" }.joined(separator: ",") }
            return "\(value)"
        }
    }

    /// Reads the `*_password_file` settings, once every source has been applied: a file
    /// always wins over a password given inline, whichever source gave it.
    private mutating func readSecretFiles() throws {
        if let file = adminPasswordFile { adminPassword = try Self.readSecret(file, key: "admin_password_file") }
        if let file = databasePasswordFile {
            databaseURL = try SecretURL.replacingPassword(
                in: databaseURL, with: Self.readSecret(file, key: "database_password_file"),
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
        [
            "database": SecretRedaction.url(databaseURL), "broker": brokerURLs.map(SecretRedaction.url).joined(separator: ","),
            "broker_prefix": brokerPrefix, "queue_type": brokerQueueType, "temp_dir": tempDir,
        ]
    }
}
