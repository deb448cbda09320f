import Foundation
import KGDatabase
import XCTest

/// Behaviour the docs promise that had no test (issue 21): each scenario runs
/// against real PostgreSQL, RabbitMQ, gateways, workers and the CLI, compares
/// the whole graph with the exact state it must be in, and, where there is a
/// fault, shows that it landed mid-operation. Faults with services restarted,
/// processes signalled or storage filled are in `PromiseTests+Faults.swift`.
final class PromiseTests: XCTestCase {
    var stack: TestStack!
    var services: PrivateServices?

    override func tearDown() {
        stack?.stop()
        services?.stop()
    }

    // MARK: 1. A risky job given up after max_attempts

    /// A merge whose worker dies on every attempt (`test_crash_marker`: abort() while
    /// loading a concept, after the checkpoint) is failed after `max_attempts` with a
    /// message that says no attempt committed, its message is dead-lettered, the graph
    /// is exactly as before, and the last attempt's checkpoint is kept.
    func testARiskyJobGivenUpAfterItsAttemptsKeepsTheGraphAndItsCheckpoint() throws {
        stack = try TestStack(workers: 2, environment: ["KG_TEST_CRASH_MARKER": "poison_concept", "KG_MAX_ATTEMPTS": "2"])
        try stack.loadSample(concepts: 20, ontologies: 2, dimensions: 4)
        try stack.execute("INSERT INTO kg.concepts (concept_id, label) VALUES ('poison_concept', 'crashes workers')")
        try stack.login()
        let file = try stack.backupWithCLI()
        // The merge would bring the poison concept back and undo the drift: it must do neither.
        try stack.execute("DELETE FROM kg.concepts WHERE concept_id = 'poison_concept'; UPDATE kg.concepts SET label = 'drifted'")
        let before = try stack.fingerprint()
        let (status, json) = try stack.uploadRestore(file, fields: ["mode": "merge"])
        XCTAssertEqual(status, 202, "\(json)")
        let id = try XCTUnwrap(json["job_id"] as? String)
        // A supervisor restarts crashed workers; so does this loop (a restart truncates the log: read it first).
        var crashLogs: [String] = []
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, try stack.jobRow(id)["status"] as? String != "failed" {
            for (name, worker) in stack.workers where !worker.isRunning {
                crashLogs.append(worker.log)
                try stack.startWorker(name)
            }
            usleep(200_000)
        }
        let job = try stack.jobRow(id)
        XCTAssertEqual(job["status"] as? String, "failed", "\(job)\n\(stack.logs)")
        XCTAssertEqual(job["attempts"] as? Int, 2)
        // The logs of every worker process: those restarted above, and the current ones (the last crash may not be restarted yet).
        let allLogs = crashLogs + stack.workers.values.map(\.log)
        XCTAssertEqual(allLogs.filter { $0.contains("test_crash_marker met") }.count, 2, "one crash per attempt")
        // Mid-operation: the first attempt had made its checkpoint (the retry found it `ready`).
        XCTAssertTrue(
            allLogs.contains { $0.contains("an earlier attempt stopped before its commit") },
            "the retry found the crashed attempt's checkpoint\n\(stack.logs)")
        let error = job["error"] as? String ?? ""
        XCTAssertTrue(error.contains("on attempt 2 of 2; gave up"), error)
        XCTAssertTrue(error.contains("Nothing was changed: no attempt committed"), error)
        XCTAssertTrue(error.contains("its checkpoint is kept (`kg admin checkpoints download \(id)`)"), error)
        try stack.assertGraph(equals: before, "every attempt rolled back")
        XCTAssertEqual(try stack.scalar("SELECT status FROM kg_api.checkpoints WHERE checkpoint_id = $1::uuid", [id]), "kept")
        try stack.waitUntil(10, "the upload to be removed; only the checkpoint stays") { stack.tempFiles() == stack.checkpointFiles() }
        XCTAssertEqual(stack.checkpointFiles().count, 1, "\(stack.tempFiles())")
        XCTAssertTrue(stack.checkpointFiles().first?.contains(id) == true, "\(stack.tempFiles())")
        var dead = 0
        try stack.waitUntil(10, "the message in the dead-letter queue") {
            dead += try stack.purgeDeadLetters()
            return dead > 0
        }
        XCTAssertEqual(dead, 1)
    }

    // MARK: 3. An integrity finding rolls a risky operation back

    /// `GraphIntegritySQL` has two checks. "sources name ontologies that do not exist"
    /// cannot fire: `kg.sources.document` is a foreign key to `kg.ontologies`. "relationships
    /// use types missing from the vocabulary" has no foreign key, but no kg operation can
    /// produce it (restores and stitches add missing types). What remains is a change made
    /// outside kg: here a session deletes a custom type still in use while a prune runs
    /// (held mid-operation by a row lock). The check after the prune finds it; the prune is
    /// rolled back, its checkpoint kept, and the graph is the state outside kg left.
    func testAnIntegrityFindingAfterAPruneRollsItBack() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 30, ontologies: 2, dimensions: 4)
        try stack.login()
        try stack.execute(
            """
            INSERT INTO kg.vocabulary (relationship_type, category, is_builtin) VALUES ('TEST_LINK', 'custom', false);
            UPDATE kg.relationships SET relationship_type = 'TEST_LINK' WHERE relationship_id = (
                SELECT min(relationship_id) FROM kg.relationships r  -- an edge the prune keeps: both ends are mentioned
                WHERE EXISTS (SELECT 1 FROM kg.evidence e WHERE e.concept_id = r.from_concept_id)
                  AND EXISTS (SELECT 1 FROM kg.evidence e WHERE e.concept_id = r.to_concept_id));
            """)
        try stack.addPrunableRows()
        let blocker = try RowLockBlocker(stack, "SELECT 1 FROM kg.instances WHERE instance_id = 'orphan_instance' FOR UPDATE")
        let (status, accepted) = try stack.adminCall("POST", "/admin/prune", json: "{}")
        XCTAssertEqual(status, 202, "\(accepted)")
        let id = try XCTUnwrap(accepted["job_id"] as? String)
        try stack.waitUntil(60, "the prune to block mid-operation") { try stack.dataSessionWaitsForALock(id) }
        XCTAssertEqual(try stack.stage(id), "pruning", "the change outside kg lands mid-operation")
        try stack.execute("DELETE FROM kg.vocabulary WHERE relationship_type = 'TEST_LINK'")
        let damaged = try stack.fingerprint()
        blocker.release()

        let job = try stack.waitForJob(id)
        XCTAssertEqual(job["status"] as? String, "failed", "\(job)\n\(stack.logs)")
        let error = job["error"] as? String ?? ""
        XCTAssertTrue(
            error.contains(
                "the graph failed its integrity check after the prune: "
                    + "relationships use types missing from the vocabulary (TEST_LINK)"), error)
        XCTAssertTrue(error.contains("rolled back to checkpoint \(id): the transaction was undone, so nothing was changed"), error)
        try stack.waitUntil(30, "the prune's transaction to end") { try stack.dataSessionEnded(id) }
        try stack.assertGraph(equals: damaged, "the prune was rolled back: only the change made outside kg remains")
        XCTAssertEqual(try stack.scalar("SELECT count(*) FROM kg.instances WHERE instance_id = 'orphan_instance'"), "1")
        XCTAssertEqual(try stack.scalar("SELECT status FROM kg_api.checkpoints WHERE checkpoint_id = $1::uuid", [id]), "kept")
        XCTAssertEqual(stack.checkpointFiles().count, 1, "\(stack.tempFiles())")
    }

    // MARK: 8. A merge keeps edge multiplicity

    /// Edges are a multiset: for each (from, to, type, properties) a merge leaves
    /// max(graph's count, file's count). The file holds e1 ×2, e2 ×2, e3 ×1; the graph
    /// e1 ×1, e2 ×0, e3 ×3: the merge adds one e1 and two e2, and keeps all three e3.
    func testAMergeKeepsEdgeMultiplicity() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 30, ontologies: 2, dimensions: 4)
        try stack.login()
        let ontology = ["--type", "ontology", "--ontology", "Philosophy of Mind"]
        let first = try BackupFile(path: try stack.backupWithCLI(ontology)).section("relationships")
        func key(_ edge: [String: Any]) -> [String] { [edge["from"] as? String ?? "", edge["to"] as? String ?? "", edge["type"] as? String ?? ""] }
        let unique = Dictionary(grouping: first, by: key).filter { $0.value.count == 1 }.keys.sorted { $0.joined() < $1.joined() }
        XCTAssertGreaterThanOrEqual(unique.count, 3, "the ontology has edges to work with")
        let (e1, e2, e3) = (unique[0], unique[1], unique[2])
        let db = try stack.db()
        defer { db.close() }
        func ids(_ edge: [String]) throws -> [String] {
            try db.query(
                """
                SELECT relationship_id::text FROM kg.relationships WHERE from_concept_id = $1 AND to_concept_id = $2 AND relationship_type = $3
                ORDER BY relationship_id
                """, edge
            ).rows.compactMap { $0[0] }
        }
        func duplicate(_ edge: [String], times: Int) throws {
            for _ in 0..<times {
                try db.query(
                    """
                    INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type, properties)
                    SELECT from_concept_id, to_concept_id, relationship_type, properties FROM kg.relationships WHERE relationship_id = $1::bigint
                    """, [try ids(edge).first])
            }
        }
        try duplicate(e1, times: 1)
        try duplicate(e2, times: 1)
        let file = try stack.backupWithCLI(ontology)
        let inFile = Dictionary(grouping: try BackupFile(path: file).section("relationships"), by: key).mapValues(\.count)
        XCTAssertEqual([inFile[e1], inFile[e2], inFile[e3]], [2, 2, 1], "the file holds duplicate edges")
        let e2Properties = try XCTUnwrap(
            try db.query(
                "SELECT properties::text AS p FROM kg.relationships WHERE relationship_id = $1::bigint",
                [try ids(e2).first]
            ).first("p"))
        try db.query("DELETE FROM kg.relationships WHERE relationship_id = $1::bigint", [try ids(e1).last])
        try db.query("DELETE FROM kg.relationships WHERE relationship_id = ANY($1::bigint[])", ["{" + (try ids(e2)).joined(separator: ",") + "}"])
        try duplicate(e3, times: 2)
        XCTAssertEqual([try ids(e1).count, try ids(e2).count, try ids(e3).count], [1, 0, 3])

        // The expected after-state, made by hand in a transaction that is rolled back: one e1 and two e2 added.
        try db.execute("BEGIN")
        try duplicate(e1, times: 1)
        for _ in 0..<2 {
            try db.query(
                """
                INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type, properties) VALUES ($1, $2, $3, $4::jsonb)
                """, e2 + [e2Properties])
        }
        let expected = try GraphFingerprint(db, scope: .content)
        try db.execute("ROLLBACK")

        let r = try stack.kg(["admin", "restore", file, "--yes", "--mode", "merge"])
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        try stack.assertGraph(equals: expected, "the merge added exactly the missing copies", scope: .content)
        XCTAssertEqual([try ids(e1).count, try ids(e2).count, try ids(e3).count], [2, 2, 3])
    }

    // MARK: 9. Checkpoints restored on purpose, and checkpoints whose file is gone

    /// A merge that fails just before its commit keeps its checkpoint; after the graph
    /// changed, `kg admin checkpoints restore ID` gives back exactly the graph of before the
    /// merge. Once the file is removed outside kg, the checkpoint's download and restore
    /// answer 410 and the CLI says so, changing nothing.
    func testACheckpointRestoresOnPurposeAndAnswers410OnceItsFileIsGone() throws {
        stack = try TestStack(workers: 0)
        // Only this worker fails merges before their commit; the one started later restores the checkpoint.
        try stack.startWorker("failing", environment: ["KG_TEST_FAIL_AFTER_STAGE": "committing"])
        try stack.waitReady()
        try stack.loadSample(concepts: 40, ontologies: 3, dimensions: 8)
        try stack.login()
        let file = try stack.backupWithCLI(["--type", "ontology", "--ontology", "Philosophy of Mind"])
        try stack.execute("UPDATE kg.concepts SET label = 'drifted'; DELETE FROM kg.relationships WHERE relationship_id % 3 = 0")
        let beforeMerge = try stack.fingerprint()
        let beforeMergeContent = try stack.fingerprint(.content)
        let failed = try stack.kg(["admin", "restore", file, "--yes", "--json"])
        XCTAssertEqual(failed.exitCode, 1, failed.summary + stack.logs)
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [String: Any], failed.summary)
        let checkpoint = try XCTUnwrap(answer["job_id"] as? String)
        XCTAssertTrue((answer["error"] as? String ?? "").contains("rolled back to checkpoint \(checkpoint)"), "\(answer)")
        try stack.assertGraph(equals: beforeMerge, "the failed merge changed nothing")
        try XCTUnwrap(stack.workers["failing"]).stop()
        try stack.startWorker("w1")

        try stack.execute("UPDATE kg.concepts SET label = 'changed later'; DELETE FROM kg.relationships WHERE relationship_id % 2 = 0")
        XCTAssertNotEqual(try stack.fingerprint(.content), beforeMergeContent, "the graph changed")
        let restored = try stack.kg(["admin", "checkpoints", "restore", checkpoint, "--json"])
        XCTAssertEqual(restored.exitCode, 0, restored.summary + stack.logs)
        try stack.assertGraph(
            equals: beforeMergeContent, "the checkpoint restore gave back the graph of before the merge",
            scope: .content)

        // The file removed outside kg: 410 for the download and the restore, through HTTP and the CLI.
        let path = try XCTUnwrap(stack.checkpointFiles().first { $0.contains(checkpoint) }, "\(stack.tempFiles())")
        XCTAssertEqual(try stack.scalar("SELECT status FROM kg_api.checkpoints WHERE checkpoint_id = $1::uuid", [checkpoint]), "kept")
        XCTAssertEqual(unlink(stack.tempDir + "/" + path), 0)
        let afterRestore = try stack.fingerprint()
        let jobs = try stack.scalar("SELECT count(*) FROM kg_api.jobs")
        let download = try stack.adminCall("GET", "/admin/checkpoints/\(checkpoint)")
        XCTAssertEqual(download.status, 410, "\(download.json)")
        XCTAssertTrue("\(download.json)".contains("removed outside kg"), "\(download.json)")
        let again = try stack.adminCall("POST", "/admin/checkpoints/\(checkpoint)/restore", json: "{}")
        XCTAssertEqual(again.status, 410, "\(again.json)")
        XCTAssertTrue((again.json["error"] as? String ?? "").contains("gone from temp storage"), "\(again.json)")
        let cliDownload = try stack.kg(["admin", "checkpoints", "download", checkpoint])
        XCTAssertEqual(cliDownload.exitCode, 1, cliDownload.summary)
        XCTAssertTrue(cliDownload.stderr.contains("gone from temp storage"), cliDownload.stderr)
        let cliRestore = try stack.kg(["admin", "checkpoints", "restore", checkpoint])
        XCTAssertEqual(cliRestore.exitCode, 1, cliRestore.summary)
        XCTAssertTrue(cliRestore.stderr.contains("gone from temp storage") && cliRestore.stderr.contains("Nothing was changed"), cliRestore.stderr)
        XCTAssertEqual(try stack.scalar("SELECT count(*) FROM kg_api.jobs"), jobs, "no job was queued for a checkpoint without a file")
        try stack.assertGraph(equals: afterRestore, "the refusals changed nothing")
        XCTAssertEqual(stack.backupDirFiles().filter { $0.hasPrefix("checkpoint_") }, [], "no download was saved")
    }

    // MARK: 10. The janitor removes the files of ended jobs

    /// With no worker: a restore cancelled while queued leaves its upload behind (the
    /// cancel does not touch files); a failed job's `restore_<job>.json` (as a worker killed
    /// between failing the row and removing the file leaves it) and a `backup_<job>` file
    /// untouched for longer than `upload_idle_timeout_s` are orphans too. One sweep removes
    /// those and keeps the upload of a job still queued and a backup file in use.
    func testTheJanitorRemovesTheFilesOfEndedJobsAndKeepsLiveOnes() throws {
        stack = try TestStack(workers: 0, environment: ["KG_JANITOR_INTERVAL": "0.3", "KG_UPLOAD_IDLE_TIMEOUT": "30"])
        let queued = try XCTUnwrap(try stack.uploadRestore(TestStack.fixtureBackup).json["job_id"] as? String)
        let cancelled = try XCTUnwrap(try stack.uploadRestore(TestStack.fixtureBackup).json["job_id"] as? String)
        XCTAssertEqual(try stack.adminCall("DELETE", "/jobs/\(cancelled)").status, 200)
        let failed = try stack.insertJob(user: "admin", status: "failed")
        let name = { (prefix: String, id: String) in "\(prefix)_\(id).json" }
        XCTAssertTrue(FileManager.default.createFile(atPath: stack.tempDir + "/" + name("restore", failed), contents: Data("{}".utf8)))
        let oldBackup = name("backup", UUID().uuidString.lowercased()), liveBackup = name("backup", UUID().uuidString.lowercased())
        for file in [oldBackup, liveBackup] {
            XCTAssertTrue(FileManager.default.createFile(atPath: stack.tempDir + "/" + file, contents: Data("{".utf8)))
        }
        let all = [name("restore", queued), name("restore", cancelled), name("restore", failed), oldBackup, liveBackup]
        XCTAssertEqual(stack.tempFiles(), all.sorted())
        // Every file but the live backup is a minute old (the janitor waits 5 s before judging a restore file):
        // the sweep that removes the last of them has judged the queued job's upload too.
        for file in [name("restore", queued), name("restore", cancelled), name("restore", failed), oldBackup] {
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: stack.tempDir + "/" + file)
        }
        try stack.waitUntil(20, "the janitor to remove the ended jobs' files") {
            stack.tempFiles() == [name("restore", queued), liveBackup].sorted()
        }
        XCTAssertEqual(try stack.jobRow(queued)["status"] as? String, "queued")
        XCTAssertEqual(try stack.jobRow(cancelled)["status"] as? String, "cancelled")
        let removed = stack.gateways[0].log.components(separatedBy: "\n").filter { $0.contains("removed an orphaned temp file") }
        XCTAssertEqual(removed.count, 3, removed.joined(separator: "\n"))
    }

    // MARK: 11. A stitch candidate below the threshold is rejected

    /// One missing concept whose only candidate is an embedding at cosine similarity 0.8:
    /// `--threshold 0.85` rejects it (nothing changes, the links keep waiting); `--threshold
    /// 0.75` takes it (so the threshold, nothing else, decided).
    func testAStitchCandidateBelowTheThresholdKeepsWaiting() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 60, ontologies: 3, dimensions: 8)
        try stack.login()
        let ontology = try stack.backupWithCLI(["--type", "ontology", "--ontology", "Philosophy of Mind"])
        try stack.wipeGraph()
        let deferred = try stack.kg(["admin", "restore", ontology, "--yes", "--external-deps", "stitch"])
        XCTAssertEqual(deferred.exitCode, 0, deferred.summary)
        let pending = try stack.adminCall("GET", "/admin/pending").json
        let missing = try XCTUnwrap((pending["missing_concepts"] as? [[String: Any]])?.first, "\(pending)")
        let id = try XCTUnwrap(missing["concept_id"] as? String)
        let links = (missing["instances"] as? Int ?? 0) + (missing["relationships"] as? Int ?? 0)
        XCTAssertGreaterThan(links, 0)
        // The only concept with 3 dimensions (the graph's have 8): cos([1,0,0], [0.8,0.6,0]) = 0.8.
        try stack.execute("INSERT INTO kg.concepts (concept_id, label, embedding) VALUES ('candidate', 'another name', '{0.8,0.6,0}')")
        // A reference file with the missing concept alone, its label matching nothing.
        let reference = stack.root + "/reference.json"
        let text = """
            {"version":"1.0","type":"ontology_backup","timestamp":"2026-01-01T00:00:00Z","ontology":"x","schema_version":6,
             "statistics":{"concepts":1},"data":{"concepts":[{"concept_id":"\(id)","label":"no concept is called this","embedding":[1,0,0]}]}}
            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: reference))
        let before = try stack.fingerprint()

        let refused = try stack.kg(["admin", "stitch", "--backup", reference, "--threshold", "0.85", "--json"])
        XCTAssertEqual(refused.exitCode, 0, refused.summary + stack.logs)
        let refusedResult = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any])?["result"]
                as? [String: Any], refused.summary)
        XCTAssertEqual((refusedResult["reconnections"] as? [Any])?.count, 0, "\(refusedResult)")
        XCTAssertEqual((refusedResult["outcomes"] as? [String: Int])?["embedding"], 0, "\(refusedResult)")
        try stack.assertGraph(equals: before, "a rejected candidate changes nothing")
        XCTAssertTrue(NSDictionary(dictionary: try stack.adminCall("GET", "/admin/pending").json).isEqual(to: pending), "the links keep waiting")

        let taken = try stack.kg(["admin", "stitch", "--backup", reference, "--threshold", "0.75", "--json"])
        XCTAssertEqual(taken.exitCode, 0, taken.summary + stack.logs)
        let result = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(taken.stdout.utf8)) as? [String: Any])?["result"]
                as? [String: Any], taken.summary)
        let reconnection = try XCTUnwrap((result["reconnections"] as? [[String: Any]])?.first, "\(result)")
        XCTAssertEqual(reconnection["concept_id"] as? String, "candidate")
        XCTAssertEqual(reconnection["how"] as? String, "embedding")
        XCTAssertEqual(reconnection["similarity"] as? Double ?? 0, 0.8, accuracy: 0.0001)
        XCTAssertEqual(reconnection["links"] as? Int, links)
    }
}
