import Foundation
import KGClient
import KGDatabase
import XCTest

/// Nothing committed is ever lost or misreported (issue 11): a risky job runs in
/// one transaction and its row is completed in that transaction, so a retry
/// never undoes another job's commit, a late cancel never relabels a commit,
/// and every temp file has an owner the janitor can ask about. Real gateway,
/// workers, PostgreSQL and RabbitMQ.
final class SafetyTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        let db = try stack.db()
        defer { db.close() }
        return try db.query(sql, parameters).rows.first?.first ?? nil
    }

    func job(_ id: String) throws -> [String: Any] {
        let db = try stack.db()
        defer { db.close() }
        let text = try XCTUnwrap(try JobStore(db).json(jobID: id))
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func stage(_ id: String) throws -> String? { (try job(id)["progress"] as? [String: Any])?["stage"] as? String }

    func sources(of ontology: String) throws -> Int {
        Int(try scalar("SELECT count(*) FROM kg.sources WHERE document = $1", [ontology]) ?? "-1") ?? -1
    }

    // MARK: 1. A retried risky job never erases another job's commit

    /// The review's scenario: W1 deletes ontology A and is killed mid-delete; a merge
    /// of ontology B, waiting for the graph lock, then completes; the delete's retry
    /// must not roll the graph back over the merge. Before: the retry restored its
    /// old checkpoint and B was gone while its job said `completed`.
    func testARetriedRiskyJobNeverErasesAnotherJobsCommit() throws {
        stack = try TestStack(workers: 2)
        try stack.loadSample(concepts: 60, ontologies: 3, dimensions: 8)
        try stack.login()
        let a = "Philosophy of Mind", b = "Biología celular"
        let bSources = try sources(of: b)
        XCTAssertGreaterThan(bSources, 0)
        // B's backup, then B deleted for real: the merge below brings it back.
        let backup = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", b])
        XCTAssertEqual(backup.exitCode, 0, backup.summary)
        let bFile = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try stack.kg(["ontology", "delete", b, "--yes"]).exitCode, 0)
        XCTAssertEqual(try sources(of: b), 0)

        // A session of the test holds A's sources: the delete stops inside its `deleting` stage.
        let blocker = try stack.db()
        try blocker.execute("BEGIN")
        try blocker.query("SELECT 1 FROM kg.sources WHERE document = $1 FOR UPDATE", [a])
        let delete = try stack.kgInBackground(["ontology", "delete", a, "--yes"], name: "delete-a")
        var deleteID = ""
        try stack.waitUntil(60, "the delete to block mid-operation") {
            guard let id = try scalar("SELECT job_id::text FROM kg_api.jobs WHERE job_type = 'ontology_delete' AND status = 'running'")
            else { return false }
            deleteID = id
            return try scalar(
                """
                SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'
                """, ["kgw:\(id):data"]) == "1"
        }
        XCTAssertEqual(try stage(deleteID), "deleting", "the fault lands mid-operation")
        let holder = try XCTUnwrap(try job(deleteID)["attempts"] as? Int)
        XCTAssertEqual(holder, 1)
        let deleteWorker = try XCTUnwrap(try scalar("SELECT worker_id FROM kg_api.jobs WHERE job_id = $1::uuid", [deleteID]))

        // The merge waits for the graph lock on the other worker.
        let (status, accepted) = try stack.uploadRestore(bFile, fields: ["mode": "merge"])
        XCTAssertEqual(status, 202, "\(accepted)")
        let mergeID = try XCTUnwrap(accepted["job_id"] as? String)
        try stack.waitUntil(60, "the merge to wait for the graph lock") {
            ((try job(mergeID)["progress"] as? [String: Any])?["message"] as? String ?? "").contains("waiting for")
        }

        // kill -9 the delete's worker, then let its stranded statement go (its session then ends, rolled back).
        try XCTUnwrap(stack.workers[deleteWorker]).killHard()
        try blocker.execute("ROLLBACK")
        blocker.close()

        let merge = try stack.waitForJob(mergeID, timeout: 180)
        let deleted = try stack.waitForJob(deleteID, timeout: 180)
        delete.stop(grace: 1)
        XCTAssertEqual(merge["status"] as? String, "completed", "\(merge)\n\(stack.logs)")
        XCTAssertEqual(deleted["status"] as? String, "completed", "\(deleted)\n\(stack.logs)")
        XCTAssertEqual(deleted["attempts"] as? Int, 2, "the delete was retried after the kill")
        // Both effects are there: B back (the merge), A gone (the delete's retry).
        XCTAssertEqual(try sources(of: b), bSources, "the merge's commit survived the delete's retry")
        XCTAssertEqual(try scalar("SELECT count(*) FROM kg.ontologies WHERE name = $1", [b]), "1")
        XCTAssertEqual(try sources(of: a), 0)
        XCTAssertEqual(try scalar("SELECT count(*) FROM kg.ontologies WHERE name = $1", [a]), "0")
        XCTAssertFalse(stack.logs.contains("rolling the graph back to its checkpoint"), "no automatic checkpoint restore")
        try stack.waitUntil(30, "no temp file left") { stack.tempFiles().isEmpty }
    }

    // MARK: 3. The outcome is decided at the commit

    /// A cancel after the commit is refused and says so; the job stays `completed`.
    /// Cancels racing a restore's end always agree with the graph: `completed`
    /// means the new graph, `cancelled` the old one, never the other way round.
    func testACancelRacingTheCommitNeverMislabelsIt() throws {
        stack = try TestStack(workers: 1, environment: ["KG_TEST_RECORD_DELAY_MS": "10"])
        try stack.loadSample(concepts: 30, dimensions: 4)
        try stack.login()
        let file = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let client = HTTPClient(baseURL: stack.apiURL, token: try stack.token())
        var outcomes: [String: Int] = [:]
        // The first cancel goes out at a different moment of each round: early in
        // loading, through the apply stages, around the commit, after it.
        let offsets = [0.2, 0.6, 1.0, 1.3, 1.6, 1.9, 2.2, 2.6, 3.0, 4.0]
        var seenStages: Set<String> = []
        for (round, offset) in offsets.enumerated() {
            try stack.db().execute("UPDATE kg.concepts SET label = 'old \(round)'")
            let before = try stack.graphChecksum()
            let (status, json) = try stack.uploadRestore(file)
            XCTAssertEqual(status, 202)
            let id = try XCTUnwrap(json["job_id"] as? String)
            try stack.waitUntil(60, "the restore to load") { try stage(id) == "loading" }
            usleep(useconds_t(offset * 1_000_000))
            seenStages.insert(try stage(id) ?? "?")
            let answer = try client.request(method: "DELETE", path: "/jobs/\(id)")
            let ended = try stack.waitForJob(id)
            let final = try XCTUnwrap(ended["status"] as? String)
            outcomes[final, default: 0] += 1
            if answer.status == 409 {
                XCTAssertEqual(final, "completed")
                XCTAssertTrue(String(decoding: answer.body, as: UTF8.self).contains("nothing was undone"))
            } else {
                XCTAssertEqual(answer.status, 200, String(decoding: answer.body, as: UTF8.self))
                XCTAssertEqual(final, "cancelled", "an accepted cancel means the restore did not commit: \(ended)")
            }
            // Let a worker that ignored the outcome show itself: wait for its data session to end.
            try stack.waitUntil(30, "the worker's data session to end") {
                try scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", ["kgw:\(id):data"]) == "0"
            }
            let after = try stack.graphChecksum()
            switch final {
            case "completed":
                XCTAssertNotEqual(after, before, "completed: the restore's changes are there")
                XCTAssertEqual(try scalar("SELECT count(*) FROM kg.concepts WHERE label LIKE 'old %'"), "0")
            case "cancelled":
                XCTAssertEqual(after, before, "cancelled: nothing was changed (\(ended))")
            default:
                XCTFail("unexpected outcome \(ended)")
            }
        }
        print("cancel race outcomes: \(outcomes), stages at the cancel: \(seenStages.sorted())")
        XCTAssertGreaterThan(outcomes["cancelled"] ?? 0, 0, "some cancels landed before the commit")
        XCTAssertGreaterThan(outcomes["completed"] ?? 0, 0, "some came after it")
        // The plain case: a cancel of a completed job is refused, with the reason.
        let (status, json) = try stack.uploadRestore(file)
        XCTAssertEqual(status, 202)
        let id = try XCTUnwrap(json["job_id"] as? String)
        XCTAssertEqual(try stack.waitForJob(id)["status"] as? String, "completed")
        let late = try client.request(method: "DELETE", path: "/jobs/\(id)")
        XCTAssertEqual(late.status, 409)
        XCTAssertTrue(String(decoding: late.body, as: UTF8.self).contains("its changes are committed; nothing was undone"))
        XCTAssertEqual(try job(id)["status"] as? String, "completed")
    }

    // MARK: 2. The janitor asks the job's lease, not its row

    /// A prune is cancelled while its worker is stuck mid-operation: the row says
    /// `cancelled` at once, but the worker still runs and its checkpoint must stay
    /// through many janitor sweeps; once the worker notices, the transaction rolls
    /// back, the graph is as before, and the checkpoint is kept. Before: a sweep
    /// removed the checkpoint as soon as the row was cancelled.
    func testTheJanitorKeepsTheCheckpointOfACancelledJobWhoseWorkerStillRuns() throws {
        stack = try TestStack(workers: 1, environment: ["KG_JANITOR_INTERVAL": "0.3"])
        try stack.loadSample(concepts: 30, ontologies: 2, dimensions: 4)
        try stack.login()
        let db = try stack.db()
        defer { db.close() }
        try db.execute(
            """
            INSERT INTO kg.instances (instance_id, quote, source_id) SELECT 'orphan_instance', 'no concept', min(source_id) FROM kg.sources
            """)
        let before = try stack.graphChecksum()
        let blocker = try stack.db()
        try blocker.execute("BEGIN")
        try blocker.query("SELECT 1 FROM kg.instances WHERE instance_id = 'orphan_instance' FOR UPDATE")
        let client = HTTPClient(baseURL: stack.apiURL, token: try stack.token())
        let submitted = try client.request(method: "POST", path: "/admin/prune", json: Data("{}".utf8))
        XCTAssertEqual(submitted.status, 202)
        let id = try XCTUnwrap((try JSONSerialization.jsonObject(with: submitted.body) as? [String: Any])?["job_id"] as? String)
        try stack.waitUntil(60, "the prune to block mid-operation") {
            try scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
                ["kgw:\(id):data"]) == "1"
        }
        XCTAssertEqual(try stage(id), "pruning")
        let checkpoint = try XCTUnwrap(stack.tempFiles().first { $0.hasPrefix(".checkpoint_\(id)") }, "the checkpoint exists")
        XCTAssertEqual(try client.request(method: "DELETE", path: "/jobs/\(id)").status, 200)
        XCTAssertEqual(try job(id)["status"] as? String, "cancelled", "the row says cancelled at once")
        // Twenty sweeps while the worker still runs, the file past the janitor's 5 s grace
        // (the timing is the behaviour: nothing may happen).
        usleep(6_500_000)
        XCTAssertTrue(stack.tempFiles().contains(checkpoint), "the janitor left the checkpoint of a job still held by its worker")
        try blocker.execute("ROLLBACK")
        blocker.close()
        try stack.waitUntil(60, "the worker to roll back and keep the checkpoint") {
            try scalar("SELECT status FROM kg_api.checkpoints WHERE checkpoint_id = $1::uuid", [id]) == "kept"
        }
        try stack.waitUntil(30, "the worker's data session to end") {
            try scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", ["kgw:\(id):data"]) == "0"
        }
        XCTAssertEqual(try stack.graphChecksum(), before, "the cancelled prune changed nothing")
        let ended = try job(id)
        XCTAssertEqual(ended["status"] as? String, "cancelled")
        XCTAssertTrue((ended["error"] as? String ?? "").contains("cancelled by admin"), "\(ended)")
        usleep(1_000_000)
        XCTAssertTrue(stack.tempFiles().contains(checkpoint), "a kept checkpoint stays")
    }

    // MARK: 6. Saving the rows a checkpoint file cannot carry

    /// A prune of 200,000 orphaned instances: the rows its checkpoint must keep are
    /// copied inside the database, and the job's heartbeat never stalls (before:
    /// they were read into the worker and inserted one by one while holding the
    /// lock the heartbeat needs, for longer than the heartbeat timeout).
    func testAPruneOfManyOrphansKeepsItsHeartbeat() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 20, ontologies: 1, dimensions: 4)
        try stack.login()
        let db = try stack.db()
        defer { db.close() }
        try db.execute(
            """
            INSERT INTO kg.instances (instance_id, quote, source_id)
            SELECT 'orphan_' || g, 'evidences nothing', (SELECT min(source_id) FROM kg.sources) FROM generate_series(1, 200000) g
            """)
        let client = HTTPClient(baseURL: stack.apiURL, token: try stack.token())
        let submitted = try client.request(method: "POST", path: "/admin/prune", json: Data("{}".utf8))
        let id = try XCTUnwrap((try JSONSerialization.jsonObject(with: submitted.body) as? [String: Any])?["job_id"] as? String)
        var oldest = 0.0
        var stages: Set<String> = []
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline {
            let row = try db.query(
                """
                SELECT status, extract(epoch FROM now() - heartbeat_at) AS age, progress->>'stage' FROM kg_api.jobs WHERE job_id = $1::uuid
                """, [id]
            ).rows.first
            let status = row?[0] ?? nil
            if status == "running" {
                oldest = max(oldest, Double((row?[1] ?? nil) ?? "0") ?? 0)
                stages.insert((row?[2] ?? nil) ?? "")
            }
            if status != "running" && status != "queued" { break }
            usleep(100_000)
        }
        let ended = try job(id)
        XCTAssertEqual(ended["status"] as? String, "completed", "\(ended)\n\(stack.logs)")
        XCTAssertEqual(((ended["result"] as? [String: Any])?["removed"] as? [String: Int])?["instances"], 200_000)
        XCTAssertTrue(stages.contains("creating_checkpoint"), "seen while it ran: \(stages)")
        print("prune of 200,000 orphans: the heartbeat was at most \(String(format: "%.1f", oldest)) s old")
        XCTAssertLessThan(oldest, 3.0, "the heartbeat (every second) never stalled past the 4 s timeout")
        XCTAssertEqual(try scalar("SELECT count(*) FROM kg.instances WHERE instance_id LIKE 'orphan_%'"), "0")
    }

    // MARK: 4. A running row whose worker is gone is ended

    /// A `running` row with no live holder and no message left (its worker died
    /// after another worker acknowledged the redelivery) is handed back by the
    /// janitor and ended honestly. Before: it stayed `running` for ever.
    func testARunningJobWhoseWorkerIsGoneIsEnded() throws {
        stack = try TestStack(workers: 1, environment: ["KG_JANITOR_INTERVAL": "1", "KG_HEARTBEAT_TIMEOUT": "2"])
        try stack.login()
        let backupID = UUID().uuidString.lowercased()
        let db = try stack.db()
        defer { db.close() }
        // As left behind: running, an old heartbeat, attempts 1, no session holding it, no message in the queue.
        try db.query(
            """
            INSERT INTO kg_api.jobs (job_id, job_type, username, params, status, worker_id, attempts, started_at, heartbeat_at, progress)
            VALUES ($1::uuid, 'backup', 'admin', '{}', 'running', 'gone-worker', 1, now() - interval '1 minute',
                    now() - interval '1 minute', '{"stage": "exporting", "percent": 40}')
            """, [backupID])
        let ended = try stack.waitForJob(backupID, timeout: 60)
        XCTAssertEqual(ended["status"] as? String, "failed", "\(ended)")
        let error = ended["error"] as? String ?? ""
        XCTAssertTrue(error.contains("stopped") && error.contains("take a new backup"), error)
        XCTAssertTrue(stack.logs.contains("handed back a running job that no worker holds"), stack.logs)
        // It no longer counts as active.
        XCTAssertEqual(try scalar("SELECT count(*) FROM kg_api.jobs WHERE status IN ('queued', 'running')"), "0")
    }

    // MARK: 7. The janitor never removes an upload in use

    /// An upload slower than the janitor's patience with a silent `.partial` (here
    /// 3 s; bytes arrive every 0.7 s, far below the 1 MiB write buffer) still
    /// completes: the receiving gateway renews the file's lease as bytes arrive.
    /// Before: the janitor removed the `.partial` and the upload failed at the end.
    func testASlowUploadKeepsItsPartialFile() throws {
        stack = try TestStack(workers: 1, environment: ["KG_UPLOAD_IDLE_TIMEOUT": "3", "KG_JANITOR_INTERVAL": "0.5"])
        try stack.loadSample(concepts: 5, ontologies: 1, dimensions: 2)
        try stack.login()
        let file = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let content = try Data(contentsOf: URL(fileURLWithPath: file))
        let boundary = "kgslowupload"
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.json\"\r\n".utf8)
        body += Data("Content-Type: application/json\r\n\r\n".utf8) + content + Data("\r\n--\(boundary)--\r\n".utf8)
        let connection = try RawHTTPConnection(port: stack.gatewayPorts[0])
        try connection.send(
            """
            POST /admin/restore HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(try stack.token())\r\n\
            Content-Type: multipart/form-data; boundary=\(boundary)\r\nContent-Length: \(body.count)\r\n\r\n
            """)
        // 12 pieces over ~8 s: more than twice the janitor's 3 s.
        let pieces = 12
        let size = (body.count + pieces - 1) / pieces
        var sawPartial = false
        for start in stride(from: 0, to: body.count, by: size) {
            try connection.send(body[start..<min(body.count, start + size)])
            sawPartial = sawPartial || stack.tempFiles().contains { $0.hasSuffix(".partial") }
            usleep(700_000)
        }
        XCTAssertTrue(sawPartial, "the upload was stored as a .partial while it arrived")
        guard case .data(let answer) = connection.read(timeout: 30) else { return XCTFail("no answer\n\(stack.logs)") }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 202"), answer + "\n" + stack.logs)
        let id = try XCTUnwrap(answer.range(of: #"[0-9a-f]{8}-[0-9a-f-]{27}"#, options: .regularExpression).map { String(answer[$0]) })
        XCTAssertEqual(try stack.waitForJob(id)["status"] as? String, "completed")
        XCTAssertFalse(stack.logs.contains("removed an orphaned temp file"), "the janitor left the live upload alone")
    }

    // MARK: 8. A takeover never proceeds without the job lock

    /// A frozen worker's job is taken over only once its job lock is free. Here a
    /// session that is not a worker's queues for that lock and gets it the moment
    /// the frozen holder's sessions are ended: the next worker must not run the job
    /// while someone else holds it, and must hand the message back instead. Before:
    /// after 50 tries it took the job over without the lock.
    func testATakeoverNeverRunsAJobWhoseLockIsHeldElsewhere() throws {
        stack = try TestStack(workers: 2, environment: ["KG_TEST_RECORD_DELAY_MS": "40", "KG_BROKER_HEARTBEAT": "2"])
        try stack.loadSample(concepts: 40, dimensions: 4)
        try stack.login()
        let file = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let (status, json) = try stack.uploadRestore(file)
        XCTAssertEqual(status, 202)
        let id = try XCTUnwrap(json["job_id"] as? String)
        try stack.waitUntil(60, "the restore to load") { try stage(id) == "loading" }
        let holder = try XCTUnwrap(try scalar("SELECT worker_id FROM kg_api.jobs WHERE job_id = $1::uuid", [id]))

        // Its own connection on its own thread: it blocks in pg_advisory_lock until granted.
        let outsider = OutsiderSession(try stack.db())
        let granted = DispatchSemaphore(value: 0)
        let waiter = Thread {
            _ = try? outsider.connection.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [id])
            granted.signal()
        }
        waiter.start()
        try stack.waitUntil(10, "the outsider to queue for the job lock") {
            try scalar(
                """
                SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                WHERE l.locktype = 'advisory' AND NOT l.granted AND a.application_name = 'kg-tests'
                """) == "1"
        }
        try XCTUnwrap(stack.workers[holder]).signal(SIGSTOP)
        defer { stack.workers[holder]?.signal(SIGCONT) }
        XCTAssertEqual(granted.wait(timeout: .now() + 90), .success, "the frozen holder's sessions were ended\n\(stack.logs)")
        try stack.waitUntil(60, "the other worker to refuse the takeover, or to take it") {
            try stack.logs.contains("did not end within 5 s; handing the job back") || (job(id)["attempts"] as? Int ?? 1) > 1
        }
        XCTAssertEqual(try job(id)["attempts"] as? Int, 1, "nobody ran the job while its lock was held elsewhere")
        XCTAssertEqual(try job(id)["status"] as? String, "running")

        _ = try outsider.connection.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [id])
        outsider.connection.close()
        let ended = try stack.waitForJob(id, timeout: 120)
        XCTAssertEqual(ended["status"] as? String, "completed", "\(ended)\n\(stack.logs)")
        XCTAssertEqual(ended["attempts"] as? Int, 2, "taken over once the lock was free")
    }
}

/// A test's database session handed to one other thread at a time (never used from two at once).
private final class OutsiderSession: @unchecked Sendable {
    let connection: PGConnection
    init(_ connection: PGConnection) { self.connection = connection }
}
