import Foundation
import KGBroker
import KGClient
import KGDatabase
import KGSample
import KGTestSupport
import XCTest

/// A whole kg system for one test: its own database, its own broker names
/// (prefix), its own temp storage, gateway(s) and workers as real processes,
/// and a CLI with its own config and backup_dir. Stopped and removed by `stop()`.
final class TestStack: @unchecked Sendable {
    let name: String
    let root: String
    let tempDir: String
    let cliHome: String
    let databaseURL: String
    let amqpURL: String
    let prefix: String
    let binDir: String
    let adminPassword: String
    private(set) var gatewayPorts: [Int] = []
    private(set) var gateways: [ManagedProcess] = []
    private(set) var workers: [String: ManagedProcess] = [:]
    private let adminDatabaseURL: String
    private let databaseName: String
    private let extraEnvironment: [String: String]
    /// The CA that signed the gateways' certificate, when they serve HTTPS (TestStack+TLS).
    let caCertPath: String?

    /// https when the gateways have a certificate (KG_TLS_CERTIFICATE_FILE in `environment`).
    var scheme: String { extraEnvironment["KG_TLS_CERTIFICATE_FILE"] == nil ? "http" : "https" }
    var apiURL: String { "\(scheme)://127.0.0.1:\(gatewayPorts[0])" }
    var backupDir: String { "\(cliHome)/data/kg/backups" }

    init(
        workers workerCount: Int = 2, gateways gatewayCount: Int = 1, environment: [String: String] = [:],
        services: PrivateServices? = nil, caCert: String? = nil
    ) throws {
        caCertPath = caCert
        adminDatabaseURL = try services?.adminDatabaseURL ?? TestEnvironment.adminDatabaseURL()
        let baseURL = try services?.databaseURL ?? TestEnvironment.databaseURL()
        amqpURL = try services?.amqpURL ?? TestEnvironment.amqpURL()
        binDir = try TestEnvironment.binDir()
        name = "t" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(10)
        databaseName = "kg_\(name)"
        prefix = "kg_\(name)"
        guard var components = URLComponents(string: baseURL) else { throw MissingTestSetup.missing("KG_DATABASE_URL (unparsable)") }
        components.path = "/\(databaseName)"
        databaseURL = components.string!
        root = NSTemporaryDirectory() + "kg-test-\(name)"
        tempDir = root + "/tmp"
        cliHome = root + "/cli"
        adminPassword = "pw-" + UUID().uuidString
        extraEnvironment = environment
        try FileManager.default.createDirectory(atPath: tempDir, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: cliHome, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/logs", withIntermediateDirectories: true)

        let admin = try PGConnection(url: adminDatabaseURL, applicationName: "kg-tests")
        try admin.execute("CREATE DATABASE \(databaseName) OWNER kg")
        admin.close()
        let migrate = try runCommand(binDir + "/kg-gateway", ["migrate"], environment: serviceEnvironment())
        guard migrate.exitCode == 0 else { throw StackError("migrate failed: \(migrate.summary)") }
        do {
            for _ in 0..<gatewayCount { try startGateway() }
            for i in 1...max(1, workerCount) where workerCount > 0 { try startWorker("w\(i)") }
            try waitReady()
        } catch {
            stop()
            throw error
        }
    }

    /// Environment of the gateway and workers.
    func serviceEnvironment(port: Int? = nil, workerID: String? = nil) -> [String: String] {
        var env = [
            "PATH": "/usr/bin:/bin", "HOME": root,
            "KG_DATABASE_URL": databaseURL, "KG_AMQP_URL": amqpURL, "KG_BROKER_PREFIX": prefix,
            "KG_TEMP_DIR": tempDir, "KG_MIGRATIONS_DIR": TestEnvironment.migrationsDir(),
            "KG_ADMIN_USERNAME": "admin", "KG_ADMIN_PASSWORD": adminPassword,
            "KG_HEARTBEAT_TIMEOUT": "4", "KG_LOG_LEVEL": "info",
            // Backup files go with their download (and a client leaving cancels the job), so that a test can
            // expect empty temp storage; ResumeDownloadTests sets a window (the default, 3600, keeps them).
            "KG_BACKUP_RESUME_WINDOW": "0",
            // A crashing service ran swift-backtrace, which traced it and then hung for two hours
            // (its 30 s timeout notwithstanding): a traced child cannot be reaped, so the test's
            // stop() waited for ever. A crash still shows as the exit by signal in the log.
            "SWIFT_BACKTRACE": "enable=no",
        ]
        // Every full backup of two concepts or more exports them on two connections (SplitExport), so
        // that every suite runs that path; KG_BACKUP_SPLIT_MIN_CONCEPTS=0 scripts/test.sh … runs one connection.
        env["KG_BACKUP_SPLIT_MIN_CONCEPTS"] = TestEnvironment.env["KG_BACKUP_SPLIT_MIN_CONCEPTS"] ?? "2"
        // Run any suite against a quorum job queue: KG_BROKER_QUEUE_TYPE=quorum scripts/test.sh --filter …
        if let queueType = TestEnvironment.env["KG_BROKER_QUEUE_TYPE"], !queueType.isEmpty { env["KG_BROKER_QUEUE_TYPE"] = queueType }
        // Run any suite with every resumable restore upload pipelined: KG_RESTORE_PIPELINE_MIN_BYTES=0 scripts/test.sh --filter …
        if let minBytes = TestEnvironment.env["KG_RESTORE_PIPELINE_MIN_BYTES"], !minBytes.isEmpty {
            env["KG_RESTORE_PIPELINE_MIN_BYTES"] = minBytes
        }
        if let port { env["KG_GATEWAY_PORT"] = String(port) }
        if let workerID { env["KG_WORKER_ID"] = workerID }
        env.merge(extraEnvironment) { _, new in new }
        return env
    }

    func startGateway() throws {
        let port = freePort()
        let process = try ManagedProcess(
            name: "gateway-\(gateways.count + 1)", executable: binDir + "/kg-gateway",
            arguments: ["serve"], environment: serviceEnvironment(port: port), logDir: root + "/logs")
        gateways.append(process)
        gatewayPorts.append(port)
    }

    /// Starts gateway `index` again on its port (after it was stopped or killed).
    func restartGateway(_ index: Int = 0) throws {
        gateways[index] = try ManagedProcess(
            name: "gateway-\(index + 1)-restarted", executable: binDir + "/kg-gateway",
            arguments: ["serve"], environment: serviceEnvironment(port: gatewayPorts[index]),
            logDir: root + "/logs")
        try waitReady()
    }

    /// Starts worker `id`; `environment` adds to (or overrides) the stack's settings for this worker only.
    func startWorker(_ id: String, environment: [String: String] = [:]) throws {
        let env = serviceEnvironment(workerID: id).merging(environment) { _, new in new }
        workers[id] = try ManagedProcess(
            name: "worker-\(id)", executable: binDir + "/kg-worker", arguments: ["run"],
            environment: env, logDir: root + "/logs")
    }

    func waitReady(timeout: Double = 60) throws {
        let deadline = Date().addingTimeInterval(timeout)
        for port in gatewayPorts {
            let client = HTTPClient(baseURL: "\(scheme)://127.0.0.1:\(port)", token: nil, caCertPath: caCertPath, connectTimeout: 1)
            while true {
                if let r = try? client.request(method: "GET", path: "/readyz"), r.status == 200 { break }
                if Date() > deadline {
                    throw StackError("gateway on \(port) not ready: \(gateways.map(\.log).joined(separator: "\n"))")
                }
                usleep(100_000)
            }
        }
        // Workers declare the queue; give their consumers a moment to attach.
        usleep(300_000)
    }

    /// A direct database connection (assertions, setup).
    func db() throws -> PGConnection { try PGConnection(url: databaseURL, applicationName: "kg-tests") }

    @discardableResult
    func loadSample(concepts: Int = 40, ontologies: Int = 3, dimensions: Int = 16, seed: UInt64 = 7) throws -> SampleGraphStats {
        let db = try db()
        defer { db.close() }
        return try SampleGraphLoader(
            spec: SampleGraphSpec(
                concepts: concepts, ontologies: ontologies,
                embeddingDimensions: dimensions, seed: seed)
        ).load(into: db)
    }

    /// Adds a user with `kg-gateway user add`.
    func addUser(_ username: String, role: String, password: String) throws {
        let r = try runCommand(
            binDir + "/kg-gateway", ["user", "add", "--username", username, "--role", role],
            environment: serviceEnvironment(), input: password + "\n")
        guard r.exitCode == 0 else { throw StackError("user add failed: \(r.summary)") }
    }

    /// Environment of the CLI: its own config and data folders.
    func cliEnvironment(home: String? = nil, extra: [String: String] = [:]) -> [String: String] {
        let home = home ?? cliHome
        var env = [
            "PATH": "/usr/bin:/bin", "HOME": home, "XDG_CONFIG_HOME": home + "/config",
            "XDG_DATA_HOME": home + "/data", "KG_API_URL": apiURL,
        ]
        env.merge(extra) { _, new in new }
        return env
    }

    /// Runs `kg` with the stack's CLI environment.
    @discardableResult
    func kg(_ arguments: [String], home: String? = nil, input: String? = nil, extra: [String: String] = [:]) throws -> CommandResult {
        try runCommand(binDir + "/kg", arguments, environment: cliEnvironment(home: home, extra: extra), input: input)
    }

    /// Starts `kg` without waiting for it.
    func kgInBackground(_ arguments: [String], home: String? = nil, name: String) throws -> ManagedProcess {
        try ManagedProcess(
            name: name, executable: binDir + "/kg", arguments: arguments,
            environment: cliEnvironment(home: home), logDir: root + "/logs")
    }

    /// Logs the CLI in (as admin unless told otherwise).
    func login(_ username: String = "admin", password: String? = nil, home: String? = nil) throws {
        let r = try kg(["login", "--username", username, "--password-stdin"], home: home, input: (password ?? adminPassword) + "\n")
        guard r.exitCode == 0 else { throw StackError("login failed: \(r.summary)") }
    }

    /// A bearer token from `POST /auth/token`.
    func token(_ username: String = "admin", password: String? = nil) throws -> String {
        let body = try JSONSerialization.data(withJSONObject: ["username": username, "password": password ?? adminPassword])
        let r = try HTTPClient(baseURL: apiURL, token: nil, caCertPath: caCertPath).request(method: "POST", path: "/auth/token", json: body)
        guard r.status == 200, let object = try JSONSerialization.jsonObject(with: r.body) as? [String: Any],
            let token = object["token"] as? String
        else { throw StackError("token request failed: \(r.status)") }
        return token
    }

    func tempFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: tempDir)) ?? []).sorted()
    }

    func stop() {
        for worker in workers.values { worker.stop() }
        for gateway in gateways { gateway.stop() }
        if let admin = try? PGConnection(url: adminDatabaseURL, applicationName: "kg-tests") {
            _ = try? admin.execute("DROP DATABASE IF EXISTS \(databaseName) WITH (FORCE)")
            admin.close()
        }
        if let url = try? AMQPURL(amqpURL), let connection = try? AMQPConnection(url: url, heartbeatSeconds: 0) {
            try? JobTopology(prefix: prefix).delete(on: connection)
            connection.close()
        }
        if ProcessInfo.processInfo.environment["KG_KEEP_TEST_FILES"] == nil {
            try? FileManager.default.removeItem(atPath: root)
        }
    }

    /// All process logs, for failure messages.
    var logs: String {
        (gateways + Array(workers.values)).map { "=== \($0.name)\n\($0.log.suffix(3000))" }.joined(separator: "\n")
    }
}

struct StackError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
