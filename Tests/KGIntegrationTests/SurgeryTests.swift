import Foundation
import KGDatabase
import XCTest

/// `kg admin prune` and `kg ontology delete`: checkpointed jobs through the
/// real gateway, queue and worker, with the real CLI.
final class SurgeryTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func start(_ environment: [String: String] = [:]) throws {
        stack = try TestStack(environment: environment)
        try stack.loadSample(concepts: 40, ontologies: 3, dimensions: 8)
        try stack.login()
    }

    func count(_ sql: String, _ parameters: [String?] = []) throws -> Int {
        let db = try stack.db()
        defer { db.close() }
        return Int(try db.query(sql, parameters).first("n") ?? "-1") ?? -1
    }

    /// An orphaned instance, and a concept nothing mentions with an edge to a mentioned one.
    func addOrphans() throws {
        let db = try stack.db()
        defer { db.close() }
        try db.execute(
            """
            INSERT INTO kg.instances (instance_id, quote, source_id) SELECT 'orphan_instance', 'no concept', min(source_id) FROM kg.sources;
            INSERT INTO kg.concepts (concept_id, label) VALUES ('orphan_concept', 'mentioned by no source');
            INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type)
                SELECT 'orphan_concept', min(concept_id), 'IMPLIES' FROM kg.evidence;
            """)
    }

    func runJSON(_ arguments: [String]) throws -> (CommandResult, [String: Any]) {
        let r = try stack.kg(arguments + ["--json"])
        let object = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
        return (r, object)
    }

    func checkpointFiles() -> [String] { stack.tempFiles().filter { $0.hasPrefix(".checkpoint_") } }

    // MARK: Prune

    func testPruneRemovesOrphansAndDryRunOnlyCounts() throws {
        try start()
        try addOrphans()
        let orphanInstances = try count(
            "SELECT count(*) AS n FROM kg.instances i WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.instance_id = i.instance_id)")
        let unmentioned = try count(
            "SELECT count(*) AS n FROM kg.concepts c WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.concept_id = c.concept_id)")
        XCTAssertGreaterThanOrEqual(orphanInstances, 1)
        XCTAssertGreaterThanOrEqual(unmentioned, 1)
        let before = try stack.graphChecksum()

        let (dry, dryJSON) = try runJSON(["admin", "prune", "--dry-run"])
        XCTAssertEqual(dry.exitCode, 0, dry.summary + stack.logs)
        let wouldRemove = (dryJSON["result"] as? [String: Any])?["removed"] as? [String: Int]
        XCTAssertEqual(wouldRemove?["instances"], orphanInstances)
        XCTAssertEqual(wouldRemove?["concepts"], unmentioned)
        XCTAssertGreaterThanOrEqual(wouldRemove?["relationships"] ?? 0, 1)
        XCTAssertTrue(dry.stderr.contains("would remove"), dry.stderr)
        XCTAssertEqual(try stack.graphChecksum(), before, "a dry run changes nothing")

        let (r, json) = try runJSON(["admin", "prune"])
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        let result = try XCTUnwrap(json["result"] as? [String: Any])
        XCTAssertEqual(result["removed"] as? [String: Int], wouldRemove, "prune removes what the dry run counted")
        XCTAssertEqual(result["checkpoint"] as? String, "deleted")
        XCTAssertEqual(try count("SELECT count(*) AS n FROM kg.concepts WHERE concept_id = 'orphan_concept'"), 0)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM kg.instances WHERE instance_id = 'orphan_instance'"), 0)
        XCTAssertEqual(
            try count("SELECT count(*) AS n FROM kg.concepts c WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.concept_id = c.concept_id)"), 0)
        XCTAssertEqual(stack.tempFiles(), [], "the checkpoint was deleted after the success")

        // Nothing left to prune: a second run removes nothing.
        let (again, againJSON) = try runJSON(["admin", "prune", "--no-checkpoint"])
        XCTAssertEqual(again.exitCode, 0, again.summary)
        XCTAssertEqual(((againJSON["result"] as? [String: Any])?["removed"] as? [String: Int])?.values.reduce(0, +), 0)
        XCTAssertNil((againJSON["result"] as? [String: Any])?["checkpoint"] as? String)
    }

    /// A trigger that makes PostgreSQL refuse to delete the rows of `kg.<table>` matching `when`:
    /// a real failure in the middle of an operation (a function in `public`, which the worker sees).
    func installRefusal(_ db: PGConnection, table: String, key: String, when condition: String) throws {
        try db.execute(
            """
            CREATE FUNCTION public.kg_test_refuse_\(table)() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'the test refuses to delete from \(table) %', OLD.\(key); END $$;
            CREATE TRIGGER kg_test_refuse BEFORE DELETE ON kg.\(table) FOR EACH ROW
                WHEN (\(condition)) EXECUTE FUNCTION public.kg_test_refuse_\(table)();
            """)
    }

    func removeRefusal(_ db: PGConnection, table: String) throws {
        try db.execute("DROP TRIGGER kg_test_refuse ON kg.\(table); DROP FUNCTION public.kg_test_refuse_\(table)()")
    }

    /// 3,000 orphaned instances: a prune deletes them in 6 batches of 500.
    func addManyOrphans() throws {
        let db = try stack.db()
        defer { db.close() }
        try db.execute(
            """
            INSERT INTO kg.instances (instance_id, quote, source_id)
            SELECT 'orphan_' || lpad(g::text, 4, '0'), 'no concept', (SELECT min(source_id) FROM kg.sources) FROM generate_series(1, 3000) g
            """)
    }

    /// The graph as a prune would leave it, computed by the test in a transaction it rolls back.
    func fingerprintAfterPrune() throws -> GraphFingerprint {
        let db = try stack.db()
        defer { db.close() }
        try db.execute("BEGIN")
        defer { _ = try? db.execute("ROLLBACK") }
        let unmentioned = "SELECT concept_id FROM kg.concepts c WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.concept_id = c.concept_id)"
        try db.execute(
            """
            DELETE FROM kg.instances i WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.instance_id = i.instance_id);
            DELETE FROM kg.relationships WHERE from_concept_id IN (\(unmentioned)) OR to_concept_id IN (\(unmentioned));
            DELETE FROM kg.concepts WHERE concept_id IN (\(unmentioned));
            """)
        return try GraphFingerprint(db)
    }

    /// A real failure inside the 6th of 6 batches (a trigger the test installs refuses
    /// one row): the 5 batches before it are undone with the rest, nothing was changed.
    func testFailureMidPruneRollsBackToTheCheckpoint() throws {
        try start()
        try addOrphans()
        try addManyOrphans()
        let db = try stack.db()
        defer { db.close() }
        try installRefusal(db, table: "instances", key: "instance_id", when: "OLD.instance_id = 'orphan_2900'")
        let before = try stack.fingerprint()
        let (r, json) = try runJSON(["admin", "prune"])
        XCTAssertEqual(r.exitCode, 1, r.summary + stack.logs)
        let jobID = try XCTUnwrap(json["job_id"] as? String)
        let error = json["error"] as? String ?? ""
        XCTAssertTrue(error.contains("the test refuses to delete from instances orphan_2900"), "the failure came from the last batch: \(json)")
        XCTAssertTrue(error.contains("rolled back to checkpoint \(jobID)"), "\(json)")
        try stack.assertGraph(equals: before, "the batches before the failure were undone with it")
        try removeRefusal(db, table: "instances")
        let list = try stack.kg(["admin", "checkpoints", "list"])
        XCTAssertEqual(list.exitCode, 0, list.summary)
        XCTAssertTrue(list.stdout.contains(jobID) && list.stdout.contains("prune"), list.stdout)
        XCTAssertEqual(checkpointFiles().count, 1, "\(stack.tempFiles())")

        // The audit trail tells who asked, from where, and how it ended.
        let asked = try stack.auditRows(action: "prune").first { $0["target"] == jobID }
        XCTAssertEqual(asked?["actor"], "admin")
        XCTAssertEqual(asked?["outcome"], "accepted")
        XCTAssertEqual(asked?["remote_address"], "127.0.0.1")
        let ended = try stack.auditRows(action: "prune.finished").first { $0["target"] == jobID }
        XCTAssertEqual(ended?["outcome"], "failed")
        XCTAssertTrue((ended?["detail"] ?? nil)?.contains("rolled back to checkpoint") == true, "\(String(describing: ended))")
    }

    /// The worker is killed between batches (the test holds a row of the 6th batch, so
    /// the prune stops there): its transaction dies with it and the graph is exactly as
    /// before; a new worker takes the job over and leaves exactly the pruned graph.
    func testAWorkerKilledBetweenPruneBatchesChangesNothingAndTheRetryPrunes() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 40, ontologies: 3, dimensions: 8)
        try stack.login()
        try addOrphans()
        try addManyOrphans()
        let before = try stack.fingerprint()
        let after = try fingerprintAfterPrune()
        XCTAssertNotEqual(after, before)
        let blocker = try stack.db()
        try blocker.execute("BEGIN")
        try blocker.query("SELECT 1 FROM kg.instances WHERE instance_id = 'orphan_2900' FOR UPDATE")
        let prune = try stack.kgInBackground(["admin", "prune"], name: "prune")
        defer { prune.stop(grace: 1) }
        let db = try stack.db()
        defer { db.close() }
        var jobID = ""
        try stack.waitUntil(60, "the prune to stop at the held row") {
            guard let id = try db.query("SELECT job_id::text FROM kg_api.jobs WHERE job_type = 'prune'").rows.first?.first ?? nil
            else { return false }
            jobID = id
            return try db.query(
                """
                SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'
                """, ["kgw:\(id):data"]
            ).rows.first?.first == "1"
        }
        XCTAssertEqual(
            try db.query("SELECT progress->>'stage' FROM kg_api.jobs WHERE job_id = $1::uuid", [jobID]).rows.first?.first,
            "pruning", "the fault lands mid-operation")
        try XCTUnwrap(stack.workers["w1"]).killHard()
        try blocker.execute("ROLLBACK")
        blocker.close()
        try stack.waitUntil(30, "the dead worker's transaction to end") {
            try db.query("SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1", ["kgw:\(jobID):%"]).rows.first?.first == "0"
        }
        try stack.assertGraph(equals: before, "a worker killed mid-prune changed nothing")
        try stack.startWorker("w2")
        let ended = try stack.waitForJob(jobID, timeout: 120)
        XCTAssertEqual(ended["status"] as? String, "completed", "\(ended)\n\(stack.logs)")
        XCTAssertEqual(ended["attempts"] as? Int, 2)
        try stack.assertGraph(equals: after, "the retry left exactly the pruned graph")
        try stack.waitUntil(30, "no temp file left") { stack.tempFiles().isEmpty }
    }

    // MARK: Ontology delete

    func testOntologyDeleteRemovesWhatOnlyItMentions() throws {
        try start()
        let name = "Philosophy of Mind"
        let sources = try count("SELECT count(*) AS n FROM kg.sources WHERE document = $1", [name])
        XCTAssertGreaterThan(sources, 0)
        let shared = """
            SELECT count(DISTINCT e.concept_id) AS n FROM kg.evidence e JOIN kg.instances i USING (instance_id)
            JOIN kg.sources s USING (source_id) WHERE s.document <> $1
            """
        let keptConcepts = try count(shared, [name])
        let totalBefore = try count("SELECT count(*) AS n FROM kg.concepts")

        let refused = try stack.kg(["ontology", "delete", name])
        XCTAssertEqual(refused.exitCode, 2, "no terminal to confirm on: \(refused.summary)")
        let unknown = try stack.kg(["ontology", "delete", "No Such Ontology", "--yes"])
        XCTAssertEqual(unknown.exitCode, 1, unknown.summary)
        XCTAssertTrue(unknown.stderr.contains("not found"), unknown.stderr)

        let dry = try stack.kg(["ontology", "delete", name, "--dry-run"])
        XCTAssertEqual(dry.exitCode, 0, dry.summary)
        XCTAssertTrue(dry.stderr.contains("1 ontology;"), "the summary counts in words a person would write: \(dry.stderr)")

        let (r, json) = try runJSON(["ontology", "delete", name, "--yes"])
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        let removed = try XCTUnwrap((json["result"] as? [String: Any])?["removed"] as? [String: Int])
        XCTAssertEqual(removed["sources"], sources)
        XCTAssertEqual(removed["ontologies"], 1)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM kg.sources WHERE document = $1", [name]), 0)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM kg.ontologies WHERE name = $1", [name]), 0)
        XCTAssertEqual(try count("SELECT count(*) AS n FROM kg.concepts"), totalBefore - (removed["concepts"] ?? 0))
        XCTAssertGreaterThanOrEqual(
            try count("SELECT count(*) AS n FROM kg.concepts"), keptConcepts,
            "concepts other ontologies mention stay")
        XCTAssertEqual(try count(shared, [name]), keptConcepts, "every concept another ontology mentions is still evidenced")
        XCTAssertEqual(stack.tempFiles(), [])
    }

    /// A real failure part-way (a trigger the test installs refuses to delete the
    /// ontology's sources, after its relationships and instances went): nothing changed.
    func testFailureMidOntologyDeleteRollsBackToTheCheckpoint() throws {
        try start()
        let db = try stack.db()
        defer { db.close() }
        try installRefusal(db, table: "sources", key: "source_id", when: "true")
        let before = try stack.fingerprint()
        let (r, json) = try runJSON(["ontology", "delete", "Philosophy of Mind", "--yes"])
        XCTAssertEqual(r.exitCode, 1, r.summary + stack.logs)
        let error = json["error"] as? String ?? ""
        XCTAssertTrue(error.contains("the test refuses to delete from sources"), "the failure came after instances went: \(json)")
        XCTAssertTrue(error.contains("rolled back to checkpoint"), "\(json)")
        try stack.assertGraph(equals: before, "the relationships and instances it had deleted are back")
        try removeRefusal(db, table: "sources")
        let list = try stack.kg(["admin", "checkpoints", "list", "--json"])
        let listed = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["checkpoints"] as? [[String: Any]]
        XCTAssertEqual(listed?.first?["checkpoint_id"] as? String, json["job_id"] as? String)
        XCTAssertEqual(listed?.first?["job_type"] as? String, "ontology_delete")
        XCTAssertEqual(checkpointFiles().count, 1)
    }
}
