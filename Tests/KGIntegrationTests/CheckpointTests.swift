import Foundation
import KGClient
import KGDatabase
import XCTest

/// The checkpoint pattern around risky operations, through the whole system:
/// real gateways, RabbitMQ, workers and PostgreSQL, and the real CLI.
final class CheckpointTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func start(_ environment: [String: String] = [:], workers: Int = 2, gateways: Int = 1) throws {
        stack = try TestStack(workers: workers, gateways: gateways, environment: environment)
        try stack.loadSample(concepts: 40, ontologies: 3, dimensions: 8)
        try stack.login()
    }

    /// An ontology backup, and a change to the live graph that a merge of it undoes.
    func ontologyBackupAndDrift() throws -> String {
        let r = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", "Philosophy of Mind"])
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        let file = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let concept = try XCTUnwrap(try BackupFile(path: file).section("concepts").first?["concept_id"] as? String)
        let db = try stack.db()
        defer { db.close() }
        try db.query("UPDATE kg.concepts SET label = 'drifted' WHERE concept_id = $1", [concept])
        try db.execute("DELETE FROM kg.relationships WHERE relationship_id % 3 = 0")
        return file
    }

    func checkpoints() throws -> [[String: Any]] {
        let r = try stack.kg(["admin", "checkpoints", "list", "--json"])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return object?["checkpoints"] as? [[String: Any]] ?? []
    }

    func checkpointFiles() -> [String] { stack.tempFiles().filter { $0.hasPrefix(".checkpoint_") } }

    // MARK: Failure injected: the graph is exactly as before, the checkpoint kept and listed

    /// After the merge's work, right before its commit (with the job row): the last moment a failure can come.
    func testFailureRightBeforeTheCommitRollsBack() throws {
        try start(["KG_TEST_FAIL_AFTER_STAGE": "committing"])
        try failedMergeLeavesTheGraphAsBefore()
    }

    /// In the middle of the merge's transaction.
    func testFailureMidMergeRollsBackToTheCheckpoint() throws {
        try start(["KG_TEST_FAIL_AFTER_STAGE": "restoring_concepts"])
        try failedMergeLeavesTheGraphAsBefore()
    }

    func failedMergeLeavesTheGraphAsBefore() throws {
        let file = try ontologyBackupAndDrift()
        let before = try stack.graphChecksum()
        let beforeFingerprint = try stack.fingerprint()
        let r = try stack.kg(["admin", "restore", file, "--yes", "--json"])
        XCTAssertEqual(r.exitCode, 1, r.summary + stack.logs)
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], r.summary)
        XCTAssertEqual(answer["status"] as? String, "failed")
        let jobID = try XCTUnwrap(answer["job_id"] as? String)
        let error = answer["error"] as? String ?? ""
        XCTAssertTrue(error.contains("test failure injected"), error)
        XCTAssertTrue(error.contains("rolled back to checkpoint \(jobID)"), error)
        XCTAssertTrue(r.stderr.contains("rolled back to checkpoint"), r.stderr)
        XCTAssertEqual(try stack.graphChecksum(), before, "the graph is exactly as before the merge")
        try stack.assertGraph(equals: beforeFingerprint, "every table is exactly as before the merge")

        // Kept and listed; the file in temp storage, named as the issue says.
        let listed = try checkpoints()
        XCTAssertEqual(listed.count, 1, "\(listed)")
        XCTAssertEqual(listed.first?["checkpoint_id"] as? String, jobID)
        XCTAssertEqual(listed.first?["status"] as? String, "kept")
        XCTAssertEqual(listed.first?["job_type"] as? String, "restore")
        XCTAssertTrue((listed.first?["reason"] as? String ?? "").contains("test failure injected"))
        let files = checkpointFiles()
        XCTAssertEqual(files.count, 1, "\(stack.tempFiles())")
        let name = try XCTUnwrap(files.first)
        XCTAssertNotNil(name.range(of: #"^\.checkpoint_[0-9a-f-]{36}_\d{8}_\d{6}\.json$"#, options: .regularExpression), name)
        XCTAssertTrue(name.contains(jobID))
        XCTAssertEqual(listed.first?["file_name"] as? String, name)
        XCTAssertEqual(stack.tempFiles(), files, "the upload is gone; only the checkpoint stays")

        // Download: streamed into backup_dir, checked, and it is the graph as it was.
        let d = try stack.kg(["admin", "checkpoints", "download", jobID])
        XCTAssertEqual(d.exitCode, 0, d.summary + stack.logs)
        let saved = d.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(saved.hasPrefix(stack.backupDir + "/checkpoint_"), saved)
        let verify = try stack.kg(["admin", "verify", saved])
        XCTAssertEqual(verify.exitCode, 0, verify.summary)
        XCTAssertTrue(verify.stdout.contains("digest: ok"), "a downloaded checkpoint has its .sha256 (issue 17): \(verify.stdout)")
        // It holds the graph as it was (and is again): the same data as a backup taken now.
        let now = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(now.exitCode, 0, now.summary)
        let a = try BackupFile(path: saved), b = try BackupFile(path: now.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertTrue(NSDictionary(dictionary: a.data).isEqual(to: b.data), "the checkpoint holds the graph as before the merge")

        let missing = try stack.kg(["admin", "checkpoints", "download", UUID().uuidString.lowercased()])
        XCTAssertEqual(missing.exitCode, 1, missing.summary)
        XCTAssertTrue(missing.stderr.contains("no kept checkpoint"), missing.stderr)
    }

    /// Temp storage sweeps (by age at startup, and the gateway's janitor) never remove
    /// a kept checkpoint; the janitor removes a checkpoint file that has no live owner.
    func testSweepsKeepKeptCheckpointsAndRemoveOrphanedOnes() throws {
        try start(["KG_TEST_FAIL_AFTER_STAGE": "committing", "KG_JANITOR_INTERVAL": "1", "KG_TEMP_MAX_AGE_HOURS": "0.0005"])
        let file = try ontologyBackupAndDrift()
        let r = try stack.kg(["admin", "restore", file, "--yes"])
        XCTAssertEqual(r.exitCode, 1, r.summary)
        let kept = try XCTUnwrap(checkpointFiles().first)
        // An orphan: a checkpoint file whose job does not exist (its worker died while writing it).
        let orphan = ".checkpoint_\(UUID().uuidString.lowercased())_20260101_000000.json"
        XCTAssertTrue(FileManager.default.createFile(atPath: stack.tempDir + "/" + orphan, contents: Data("{}".utf8)))
        sleep(3)  // older than temp_max_age_hours (1.8 s) now
        // Startup sweeps by age (gateway and worker) skip checkpoint files.
        stack.gateways[0].stop()
        try stack.restartGateway(0)
        try stack.startWorker("w9")
        sleep(1)
        XCTAssertTrue(checkpointFiles().contains(kept), "\(stack.tempFiles())")
        // The janitor removes the orphan (older than 5 s, no live job), never the kept one.
        let deadline = Date().addingTimeInterval(20)
        while checkpointFiles().contains(orphan) && Date() < deadline { usleep(200_000) }
        XCTAssertEqual(checkpointFiles(), [kept], "\(stack.tempFiles())\n\(stack.logs)")
        XCTAssertEqual(try checkpoints().count, 1)
    }

    // MARK: Success and retention

    func testSuccessDeletesTheCheckpointAndRetentionKeepsN() throws {
        try start(["KG_CHECKPOINT_RETENTION": "2"])
        let file = try ontologyBackupAndDrift()
        let (status, json) = try stack.uploadRestore(file, fields: ["mode": "merge"])
        XCTAssertEqual(status, 202, "\(json)")
        let job = try stack.waitForJob(try XCTUnwrap(json["job_id"] as? String))
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        let result = try XCTUnwrap(job["result"] as? [String: Any])
        XCTAssertEqual(result["checkpoint"] as? String, "deleted")
        // The worker removes the file right after the commit that the job row shows: wait for it.
        try stack.waitUntil(10, "a success to delete its checkpoint file") { self.stack.tempFiles().isEmpty }
        XCTAssertEqual(checkpointFiles(), [], "a success deletes its checkpoint")
        XCTAssertEqual(try checkpoints().count, 0)

        // --no-checkpoint: none made.
        let skipped = try stack.waitForJob(try XCTUnwrap(try stack.uploadRestore(file, fields: ["checkpoint": "false"]).json["job_id"] as? String))
        XCTAssertEqual(skipped["status"] as? String, "completed", "\(skipped)")
        XCTAssertNil((skipped["result"] as? [String: Any])?["checkpoint"] as? String)

        // Kept on request, three times: retention keeps the newest two, oldest removed first.
        var kept: [String] = []
        for _ in 0..<3 {
            let r = try stack.kg(["admin", "restore", file, "--yes", "--keep-checkpoint", "--json"])
            XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
            let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            XCTAssertEqual((object?["result"] as? [String: Any])?["checkpoint"] as? String, "kept")
            kept.append(try XCTUnwrap(object?["job_id"] as? String))
            usleep(1_100_000)  // distinct file names (seconds) and kept_at order
        }
        let listed = try checkpoints().compactMap { $0["checkpoint_id"] as? String }
        XCTAssertEqual(listed, [kept[2], kept[1]], "newest first; the oldest was removed")
        let files = checkpointFiles()
        XCTAssertEqual(files.count, 2, "\(files)")
        XCTAssertFalse(files.contains { $0.contains(kept[0]) }, "the oldest checkpoint's file is gone")
    }

    // MARK: One at a time

    /// Two merges through two gateways run one after the other (the second says what
    /// it waits for); `--no-wait` gets 409 at once; a backup meanwhile does not wait.
    func testRiskyOperationsRunOneAtATimeAndBackupsNeverWait() throws {
        try start(["KG_TEST_RECORD_DELAY_MS": "15"], workers: 3, gateways: 2)
        let file = try ontologyBackupAndDrift()
        let tokens = try stack.token()
        let ids = LockedList()
        let group = DispatchGroup()
        for port in stack.gatewayPorts {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                let client = HTTPClient(baseURL: "http://127.0.0.1:\(port)", token: tokens)
                let r = try? client.uploadMultipart(
                    path: "/admin/restore", fields: [("mode", "merge")], fileField: "file",
                    filePath: file, fileName: "o.json", contentType: "application/json",
                    onProgress: { _, _ in })
                if let r, let object = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any],
                    let id = object["job_id"] as? String
                {
                    ids.append(id)
                }
            }
        }
        group.wait()
        let accepted = ids.items
        XCTAssertEqual(accepted.count, 2, stack.logs)

        // One holds the graph lock, the other waits and says for what.
        let db = try stack.db()
        defer { db.close() }
        var waitingMessage: String?
        var holder: GraphLock.Holder?
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && (waitingMessage == nil || holder == nil) {
            if holder == nil { holder = try GraphLock(db).holder() }
            let rows = try db.query(
                """
                SELECT progress->>'message' AS m FROM kg_api.jobs WHERE progress->>'stage' = 'checking' AND progress->>'message' LIKE 'waiting for %'
                """)
            if let message = rows.first("m") { waitingMessage = message }
            usleep(50_000)
        }
        let first = try XCTUnwrap(holder?.jobID, "a merge holds the graph lock\n\(stack.logs)")
        XCTAssertTrue(accepted.contains(first))
        XCTAssertEqual(waitingMessage, "waiting for restore \(first) by admin to finish")

        // --no-wait: 409 at once, naming the holder; through the CLI, exit 1.
        let (status, refusal) = try stack.uploadRestore(file, fields: ["no_wait": "true"])
        XCTAssertEqual(status, 409, "\(refusal)")
        XCTAssertTrue((refusal["error"] as? String ?? "").contains("restore \(first)"), "\(refusal)")
        let cli = try stack.kg(["admin", "restore", file, "--yes", "--no-wait"])
        XCTAssertEqual(cli.exitCode, 1, cli.summary)
        XCTAssertTrue(cli.stderr.contains("another risky operation is running: restore"), cli.stderr)
        // With `?no_wait=true` (what the CLI sends) the refusal comes before any of the
        // upload is read: here the body is announced and never sent.
        let early = try RawHTTPConnection(port: stack.gatewayPorts[0])
        try early.send(
            "POST /admin/restore?no_wait=true HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(try stack.token())\r\n"
                + "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 500000000\r\n\r\n")
        guard case .data(let answer) = early.read(timeout: 10) else { return XCTFail("no answer before the body") }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 409"), answer)
        XCTAssertTrue(answer.contains("another risky operation is running"), answer)

        // A backup meanwhile completes without waiting for either merge.
        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary + stack.logs)
        let stillRunning = try db.query(
            """
            SELECT count(*) AS n FROM kg_api.jobs WHERE job_id = ANY($1::uuid[]) AND status IN ('queued', 'running')
            """, ["{\(accepted.joined(separator: ","))}"]
        ).first("n")
        XCTAssertNotEqual(stillRunning, "0", "the backup finished while a merge was still queued or running")

        // Both merges complete, and their lock intervals never overlap.
        var intervals: [(String, String)] = []
        for id in accepted {
            let job = try stack.waitForJob(id, timeout: 180)
            XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
            let result = try XCTUnwrap(job["result"] as? [String: Any])
            intervals.append((try XCTUnwrap(result["locked_from"] as? String), try XCTUnwrap(result["locked_until"] as? String)))
        }
        intervals.sort { $0.0 < $1.0 }
        XCTAssertLessThan(intervals[0].1, intervals[1].0, "the second merge started after the first ended: \(intervals)")
        // Each worker removes its checkpoint file right after the commit the job row shows.
        try stack.waitUntil(10, "both merges' checkpoint files to be deleted") { self.checkpointFiles().isEmpty }
    }

    // MARK: A worker that dies

    /// A worker killed mid-merge (after its checkpoint) releases the graph lock with
    /// its session, and PostgreSQL rolls its transaction back: the retry has nothing
    /// to undo (it discards the stale checkpoint, never restores it), then merges;
    /// a second merge queued behind it runs too.
    func testAWorkerKilledMidMergeReleasesTheLockAndTheRetryStartsAfresh() throws {
        try start(["KG_TEST_RECORD_DELAY_MS": "20"], workers: 3)
        let file = try ontologyBackupAndDrift()
        let (status, json) = try stack.uploadRestore(file, fields: ["mode": "merge"])
        XCTAssertEqual(status, 202, "\(json)")
        let first = try XCTUnwrap(json["job_id"] as? String)
        let db = try stack.db()
        defer { db.close() }
        var holder: String?
        let deadline = Date().addingTimeInterval(60)
        while holder == nil && Date() < deadline {
            let r = try db.query(
                """
                SELECT worker_id FROM kg_api.jobs j JOIN kg_api.checkpoints c ON c.job_id = j.job_id
                WHERE j.job_id = $1::uuid AND c.status = 'ready' AND j.progress->>'stage' = 'loading'
                """, [first])
            holder = r.first("worker_id")
            usleep(20_000)
        }
        let worker = try XCTUnwrap(holder.flatMap { stack.workers[$0] }, "the merge reached loading with its checkpoint\n\(stack.logs)")
        worker.killHard()
        let second = try XCTUnwrap(try stack.uploadRestore(file, fields: ["mode": "merge"]).json["job_id"] as? String)

        for id in [first, second] {
            let job = try stack.waitForJob(id, timeout: 180)
            XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        }
        let firstJob = try stack.waitForJob(first)
        XCTAssertEqual(firstJob["attempts"] as? Int, 2, "taken over once")
        XCTAssertTrue(stack.logs.contains("an earlier attempt stopped before its commit"), stack.logs)
        XCTAssertFalse(stack.logs.contains("rolling the graph back"), "no automatic checkpoint restore")
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg_api.checkpoints").first("n"), "0")
        XCTAssertEqual(checkpointFiles(), [], "the dead attempt's checkpoint was discarded")
        XCTAssertNil(try GraphLock(db).holder(), "nobody holds the graph lock")
        // The whole graph is what a clean merge of the file gives: merging it once more changes nothing.
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg.concepts WHERE label = 'drifted'").first("n"), "0")
        let merged = try stack.fingerprint(.content)
        let again = try stack.kg(["admin", "restore", file, "--yes", "--mode", "merge", "--no-checkpoint"])
        XCTAssertEqual(again.exitCode, 0, again.summary)
        try stack.assertGraph(equals: merged, "a merge after the retried one changes nothing", scope: .content)
    }
}

/// Strings appended from several threads.
private final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []

    func append(_ item: String) {
        lock.lock()
        list.append(item)
        lock.unlock()
    }

    var items: [String] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}
