import Foundation
import KGBroker
import KGClient
import KGDatabase
import XCTest

/// Faults against the real processes: broker and database restarts, a hung
/// worker, a gateway killed mid-transfer, temp storage full. After each: the
/// graph is the before- or the after-state, every job has ended with an honest
/// message, and no temp file is left.
final class FaultTests: XCTestCase {
    var services: PrivateServices?
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
        services?.stop()
    }

    func stage(_ id: String) throws -> String? {
        try stack.db().query("SELECT progress->>'stage' AS s FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("s")
    }

    func allJobsEnded() throws -> Bool {
        try stack.db().query("SELECT count(*) AS n FROM kg_api.jobs WHERE status IN ('queued', 'running')").first("n") == "0"
    }

    // MARK: Broker

    func testBrokerRestartLosesNoJobAndRunsNoneTwice() throws {
        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(environment: ["KG_TEST_RECORD_DELAY_MS": "8", "KG_BROKER_HEARTBEAT": "2"], services: services)
        try stack.loadSample(concepts: 50, dimensions: 8)
        try stack.login()
        let file = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        // What every restore of the file must leave: the graph as it was backed up.
        let expected = try stack.fingerprint(.content)
        try stack.db().execute("UPDATE kg.concepts SET label = 'before'")
        // One restore running, one waiting for the graph lock, one queued in the broker; then the broker goes away.
        var ids: [String] = []
        for _ in 0..<3 {
            let (status, json) = try stack.uploadRestore(file)
            XCTAssertEqual(status, 202)
            ids.append(try XCTUnwrap(json["job_id"] as? String))
        }
        let db = try stack.db()
        defer { db.close() }
        func row(_ id: String) throws -> [String: String?] {
            try db.query(
                "SELECT status, progress->>'stage' AS stage, attempts::text AS attempts FROM kg_api.jobs WHERE job_id = $1::uuid",
                [id]
            ).records.first ?? [:]
        }
        var running: String?
        try stack.waitUntil(30, "a restore to be loading") {
            running = try ids.first { try row($0)["stage"] == "loading" && row($0)["status"] == "running" }
            return running != nil
        }
        try stack.waitUntil(30, "one job running, one waiting for the lock, one queued") {
            try db.query("SELECT count(*) AS n FROM kg_api.jobs WHERE status = 'queued'").first("n") == "1"
        }
        let loading = try XCTUnwrap(running)
        try services.run("rabbitmq-stop")
        // Read after the broker is down: the restore was running (and had not finished) while it went away.
        let during = try row(loading)
        XCTAssertEqual(during["status"], "running", "a restore was running when the broker stopped: \(during)")
        XCTAssertNotEqual(during["stage"], "committing", "\(during)")
        let client = HTTPClient(baseURL: stack.apiURL, token: try stack.token(), connectTimeout: 2)
        try stack.waitUntil(20, "/readyz to say not ready") { try client.request(method: "GET", path: "/readyz").status == 503 }
        // A backup asked for now is refused with 503, not silently dropped.
        let refused = try client.request(method: "POST", path: "/admin/backup", json: Data(#"{"backup_type":"full"}"#.utf8))
        XCTAssertEqual(refused.status, 503, String(decoding: refused.body, as: UTF8.self))
        try services.run("rabbitmq-start")
        try stack.waitUntil(60, "/readyz to say ready again") { try client.request(method: "GET", path: "/readyz").status == 200 }
        // New work flows again, and every restore ended exactly once.
        let after = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(after.exitCode, 0, after.summary + stack.logs)
        for restore in ids {
            let job = try stack.waitForJob(restore, timeout: 120)
            XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
            XCTAssertEqual(job["attempts"] as? Int, 1, "run once, not again after the broker came back: \(job)")
        }
        try stack.assertGraph(equals: expected, "after the restores the graph is the backup's, every table", scope: .content)
        // The one failed job is the refused backup, and it says why.
        let failed = try db.query("SELECT job_type, error FROM kg_api.jobs WHERE status = 'failed'").records
        XCTAssertEqual(failed.count, 1, "only the backup refused while the broker was away failed: \(failed)")
        XCTAssertEqual(failed.first?["job_type"], "backup", "\(failed)")
        XCTAssertTrue((failed.first?["error"] ?? nil)?.contains("job queue is unavailable") == true, "\(failed)")
        try stack.waitUntil(20, "every job to end") { try self.allJobsEnded() }
        try stack.waitUntil(10, "temp storage to be empty") { self.stack.tempFiles().isEmpty }
    }

    /// The broker refuses a job's message and the database goes away before the
    /// gateway can record that the job failed: the row must not stay `queued`
    /// for ever (no message will ever run it, and it counts against the user's
    /// job limit). The gateway keeps the update and its janitor applies it once
    /// the database is back.
    func testAJobRefusedWhileTheDatabaseIsAwayTooEndsFailedWhenItReturns() throws {
        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(workers: 0, environment: ["KG_JANITOR_INTERVAL": "1"], services: services)
        let client = HTTPClient(baseURL: stack.apiURL, token: try stack.token(), connectTimeout: 2, requestTimeout: 60)
        try services.run("rabbitmq-stop")
        // The backup request waits up to 5 s for a confirmed publish; meanwhile its row exists.
        let answer = ConcurrentResults()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            answer.append((try? client.request(method: "POST", path: "/admin/backup", json: Data(#"{"backup_type":"full"}"#.utf8)).status) ?? -1)
            done.signal()
        }
        var jobID: String?
        try stack.waitUntil(4, "the job row to exist") {
            jobID = try self.stack.db().query("SELECT job_id FROM kg_api.jobs WHERE status = 'queued'").first("job_id")
            return jobID != nil
        }
        try services.run("postgres-stop")
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "the backup request never answered")
        XCTAssertEqual(answer.values, [503], "the broker is away: 503\n\(stack.logs)")
        try services.run("postgres-start")
        let id = try XCTUnwrap(jobID)
        try stack.waitUntil(60, "the job to be recorded as failed") {
            try self.stack.db().query("SELECT status FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("status") == "failed"
        }
        let error = try stack.db().query("SELECT error FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("error") ?? ""
        XCTAssertTrue(error.contains("job queue is unavailable"), error)
        XCTAssertTrue(
            stack.gateways[0].log.contains("could not record a job as failed"), "the first attempt failed while the database was away\n\(stack.logs)")
        XCTAssertTrue(try allJobsEnded())
    }

    // MARK: Database

    /// DESIGN "Faults": the transaction dies with the connection, the worker hands
    /// the message back, and once the database answers again the job is run again
    /// and completes. Before that the graph is exactly the before-state; after it,
    /// exactly the backup's.
    func testDatabaseRestartDuringARestoreNeverHalfApplies() throws {
        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(environment: ["KG_TEST_RECORD_DELAY_MS": "8"], services: services)
        try stack.loadSample(concepts: 50, dimensions: 8)
        try stack.login()
        let file = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let backedUp = try stack.fingerprint(.content)
        try stack.db().execute("DELETE FROM kg.relationships WHERE relationship_id % 2 = 0; UPDATE kg.concepts SET label = 'before'")
        let before = try stack.fingerprint()
        let (status, json) = try stack.uploadRestore(file)
        XCTAssertEqual(status, 202, "\(json)")
        let id = try XCTUnwrap(json["job_id"] as? String)
        try stack.waitUntil(30, "the restore to load") { try self.stage(id) == "loading" }
        try services.run("postgres-restart")
        // Right after the restart the graph is exactly as before: the transaction died with the server.
        try stack.assertGraph(equals: before, "right after the database restart")
        let job = try stack.waitForJob(id, timeout: 120)
        XCTAssertEqual(job["status"] as? String, "completed", "the job is handed back and run again: \(job)\n\(stack.logs)")
        XCTAssertGreaterThanOrEqual(job["attempts"] as? Int ?? 0, 2, "it was run again after the restart: \(job)")
        try stack.assertGraph(equals: backedUp, "after the rerun the graph is the backup's, every table", scope: .content)
        try stack.waitUntil(20, "temp storage to be empty") { self.stack.tempFiles().isEmpty }
        XCTAssertTrue(stack.workers.values.allSatisfy(\.isRunning), "workers survive a database restart")
    }

    // MARK: Workers

    func testAHungWorkersRestoreIsTakenOver() throws {
        stack = try TestStack(environment: ["KG_TEST_RECORD_DELAY_MS": "8", "KG_BROKER_HEARTBEAT": "2", "KG_HEARTBEAT_TIMEOUT": "3"])
        try stack.loadSample(concepts: 50, dimensions: 8)
        try stack.login()
        let file = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try stack.db().execute("UPDATE kg.concepts SET label = 'before'")
        let before = try stack.graphChecksum()
        let (_, json) = try stack.uploadRestore(file)
        let id = try XCTUnwrap(json["job_id"] as? String)
        var holder: String?
        try stack.waitUntil(30, "the restore to load") {
            let r = try self.stack.db().query("SELECT worker_id, progress->>'stage' AS s FROM kg_api.jobs WHERE job_id = $1::uuid", [id])
            holder = r.first("worker_id")
            return r.first("s") == "loading"
        }
        let hung = try XCTUnwrap(holder.flatMap { stack.workers[$0] })
        hung.signal(SIGSTOP)
        defer { hung.signal(SIGCONT) }
        XCTAssertEqual(try stack.graphChecksum(), before)
        let job = try stack.waitForJob(id, timeout: 120)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        XCTAssertGreaterThanOrEqual(job["attempts"] as? Int ?? 0, 2)
        XCTAssertEqual(try stack.db().query("SELECT count(*) AS n FROM kg.concepts WHERE label = 'before'").first("n"), "0")
        // The frozen worker wakes up to find its job gone; it changes nothing.
        hung.signal(SIGCONT)
        let done = try stack.graphChecksum()
        sleep(3)
        XCTAssertEqual(try stack.graphChecksum(), done)
        XCTAssertEqual(try stack.db().query("SELECT status FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("status"), "completed")
        try stack.waitUntil(10, "temp storage to be empty") { self.stack.tempFiles().isEmpty }
    }

    // MARK: Gateway

    func testAGatewayKilledMidUploadLeavesNoFileAndNoJob() throws {
        stack = try TestStack(environment: ["KG_UPLOAD_IDLE_TIMEOUT": "2", "KG_JANITOR_INTERVAL": "1"])
        let token = try stack.token()
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(stack.gatewayPorts[0]).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let head =
            "POST /admin/restore HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: 9000000\r\n\r\n"
            + "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.json\"\r\n\r\n{\"data\":{\"concepts\":["
            + String(repeating: "{\"concept_id\":\"x\",\"label\":\"y\"},", count: 60_000)
        _ = head.withCString { send(fd, $0, strlen($0), 0) }
        try stack.waitUntil(10, "the upload to reach temp storage") { !self.stack.tempFiles().isEmpty }
        stack.gateways[0].killHard()
        XCTAssertTrue(stack.tempFiles().allSatisfy { $0.hasSuffix(".partial") }, "\(stack.tempFiles())")
        try stack.restartGateway(0)
        try stack.waitUntil(15, "the janitor to remove the broken-off upload") { self.stack.tempFiles().isEmpty }
        XCTAssertEqual(try stack.jobCount(), 0, "no job for an upload that never finished")
    }

    func testAGatewayKilledMidDownloadFailsTheCLIAndLeavesNoFile() throws {
        stack = try TestStack(environment: ["KG_TEST_RECORD_DELAY_MS": "10", "KG_UPLOAD_IDLE_TIMEOUT": "2", "KG_JANITOR_INTERVAL": "1"])
        try stack.loadSample(concepts: 60, dimensions: 8)
        try stack.login()
        let cli = try stack.kgInBackground(["admin", "backup", "--type", "full"], name: "cli-backup")
        try stack.waitUntil(30, "the backup to stream") {
            let p = try self.stack.db().query("SELECT (progress->>'percent')::float AS p FROM kg_api.jobs").first("p")
            return Double(p ?? "0") ?? 0 > 10
        }
        stack.gateways[0].killHard()
        cli.process.waitUntilExit()
        XCTAssertEqual(cli.process.terminationStatus, 1, cli.log)
        XCTAssertTrue(cli.log.contains("interrupted") || cli.log.contains("backup failed"), cli.log)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? [], [], "no partial file in backup_dir")
        try stack.restartGateway(0)
        // The job ends (the worker finishes or is told the client left), and its file is swept.
        try stack.waitUntil(60, "the backup job to end") { try self.allJobsEnded() }
        // Nobody was left to tell the worker that its client went away (that gateway died): it finished writing
        // the file, which no one downloads, so the job says completed and the janitor removes the file.
        let job = try XCTUnwrap(try stack.db().query("SELECT status, error FROM kg_api.jobs WHERE job_type = 'backup'").records.first)
        XCTAssertEqual(job["status"], "completed", "\(job)")
        XCTAssertEqual(job["error"], .some(nil), "\(job)")
        try stack.waitUntil(20, "the janitor to remove the orphaned backup file") { self.stack.tempFiles().isEmpty }
    }

    // MARK: Temp storage

    func testTempStorageFullFailsTheJobClearly() throws {
        let mount = NSTemporaryDirectory() + "kg-tmpfs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mount], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(mounted.exitCode, 0, "fault tests need root to mount a small tmpfs: \(mounted.summary)")
        guard mounted.exitCode == 0 else { return }
        defer {
            _ = try? runCommand("/bin/umount", ["-l", mount], environment: ["PATH": "/usr/bin:/bin"])
            try? FileManager.default.removeItem(atPath: mount)
        }
        stack = try TestStack(environment: ["KG_TEMP_DIR": mount])
        try stack.loadSample(concepts: 120, dimensions: 512)  // about 1.4 MB of backup: more than the 1 MB tmpfs
        try stack.login()
        let before = try stack.fingerprint()
        let r = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertTrue(r.stderr.contains("No space left on device"), r.stderr)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? [], [])
        try stack.waitUntil(20, "the job to end") { try self.allJobsEnded() }
        let jobs = try stack.db().query("SELECT status, error FROM kg_api.jobs").records
        XCTAssertEqual(jobs.count, 1, "\(jobs)")
        XCTAssertEqual(jobs.first?["status"], "failed", "\(jobs)")
        let error = ((jobs.first?["error"]) ?? nil) ?? ""
        XCTAssertTrue(error.contains("No space left on device"), "the job's error names the cause: \(error)")
        try stack.assertGraph(equals: before, "nothing else disturbed")
        // Every file counts, dotfiles (`.checkpoint_*`) included.
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: mount)) ?? ["?"], [], "temp storage is empty again")
        // A backup that fits still works.
        let small = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", "systems/thinking", "--compress", "gzip"])
        XCTAssertEqual(small.exitCode, 0, small.summary)
    }
}

/// Poison jobs and graceful stops.
final class JobLifecycleTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func testAPoisonRestoreIsDeadLetteredAfterItsAttempts() throws {
        stack = try TestStack(environment: ["KG_TEST_CRASH_MARKER": "poison_concept", "KG_MAX_ATTEMPTS": "2"])
        try stack.loadSample(concepts: 20, dimensions: 4)
        try stack.db().execute("INSERT INTO kg.concepts (concept_id, label) VALUES ('poison_concept', 'crashes workers')")
        try stack.login()
        let file = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try stack.db().execute("DELETE FROM kg.concepts WHERE concept_id = 'poison_concept'")
        let before = try stack.graphChecksum()
        let (_, json) = try stack.uploadRestore(file)
        let id = try XCTUnwrap(json["job_id"] as? String)
        // A supervisor (systemd, compose) restarts crashed workers; so does this loop.
        var crashes = 0
        let deadline = Date().addingTimeInterval(90)
        var status = "running"
        while Date() < deadline {
            for (name, worker) in stack.workers where !worker.isRunning {
                crashes += 1
                try stack.startWorker(name)
            }
            status = try stack.db().query("SELECT status FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("status") ?? ""
            if status == "failed" { break }
            usleep(200_000)
        }
        XCTAssertEqual(status, "failed", stack.logs)
        XCTAssertEqual(crashes, 2, "one crash per attempt")
        let job = try stack.waitForJob(id)
        XCTAssertTrue((job["error"] as? String ?? "").contains("gave up"), "\(job)")
        XCTAssertEqual(try stack.graphChecksum(), before, "every attempt rolled back")
        let failed = try stack.kg(["job", "list", "--status", "failed"])
        XCTAssertTrue(failed.stdout.contains(id), failed.summary)
        // The message is kept in the dead-letter queue for inspection.
        var dead = 0
        for _ in 0..<30 {
            dead = try deadLetterCount()
            if dead > 0 { break }
            usleep(200_000)
        }
        XCTAssertEqual(dead, 1)
        XCTAssertEqual(stack.tempFiles(), [])
    }

    func deadLetterCount() throws -> Int {
        let connection = try AMQPConnection(url: try AMQPURL(stack.amqpURL), heartbeatSeconds: 0)
        defer { connection.close() }
        let topology = JobTopology(prefix: stack.prefix)
        return try connection.purgeQueue(topology.deadLetterQueue)
    }

    func testAStoppedWorkerHandsItsJobBack() throws {
        stack = try TestStack(environment: ["KG_TEST_RECORD_DELAY_MS": "8", "KG_SHUTDOWN_GRACE": "1"])
        try stack.loadSample(concepts: 50, dimensions: 8)
        try stack.login()
        let file = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try stack.db().execute("UPDATE kg.concepts SET label = 'before'")
        let (_, json) = try stack.uploadRestore(file)
        let id = try XCTUnwrap(json["job_id"] as? String)
        var holder: String?
        for _ in 0..<300 where holder == nil {
            let r = try stack.db().query("SELECT worker_id, progress->>'stage' AS s FROM kg_api.jobs WHERE job_id = $1::uuid", [id])
            if r.first("s") == "loading" { holder = r.first("worker_id") }
            usleep(50_000)
        }
        let worker = try XCTUnwrap(holder.flatMap { stack.workers[$0] }, stack.logs)
        worker.signal(SIGTERM)
        worker.process.waitUntilExit()
        XCTAssertEqual(worker.process.terminationStatus, 0, worker.log)
        XCTAssertTrue(worker.log.contains("handing it back"), worker.log)
        let job = try stack.waitForJob(id)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        XCTAssertEqual(job["attempts"] as? Int, 2, "another worker resumed it")
        XCTAssertEqual(try stack.db().query("SELECT count(*) AS n FROM kg.concepts WHERE label = 'before'").first("n"), "0")
        XCTAssertEqual(stack.tempFiles(), [])
    }
}
