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
        try db.execute("""
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
        let orphanInstances = try count("SELECT count(*) AS n FROM kg.instances i WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.instance_id = i.instance_id)")
        let unmentioned = try count("SELECT count(*) AS n FROM kg.concepts c WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.concept_id = c.concept_id)")
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
        XCTAssertEqual(try count("SELECT count(*) AS n FROM kg.concepts c WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.concept_id = c.concept_id)"), 0)
        XCTAssertEqual(stack.tempFiles(), [], "the checkpoint was deleted after the success")

        // Nothing left to prune: a second run removes nothing.
        let (again, againJSON) = try runJSON(["admin", "prune", "--no-checkpoint"])
        XCTAssertEqual(again.exitCode, 0, again.summary)
        XCTAssertEqual(((againJSON["result"] as? [String: Any])?["removed"] as? [String: Int])?.values.reduce(0, +), 0)
        XCTAssertNil((againJSON["result"] as? [String: Any])?["checkpoint"] as? String)
    }

    func testFailureMidPruneRollsBackToTheCheckpoint() throws {
        try start(["KG_TEST_FAIL_AFTER_STAGE": "pruning"])
        try addOrphans()
        let before = try stack.graphChecksum()
        let (r, json) = try runJSON(["admin", "prune"])
        XCTAssertEqual(r.exitCode, 1, r.summary + stack.logs)
        let jobID = try XCTUnwrap(json["job_id"] as? String)
        XCTAssertTrue((json["error"] as? String ?? "").contains("rolled back to checkpoint \(jobID)"), "\(json)")
        XCTAssertEqual(try stack.graphChecksum(), before, "the batches already committed were undone by the checkpoint")
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
        XCTAssertGreaterThanOrEqual(try count("SELECT count(*) AS n FROM kg.concepts"), keptConcepts,
                                    "concepts other ontologies mention stay")
        XCTAssertEqual(try count(shared, [name]), keptConcepts, "every concept another ontology mentions is still evidenced")
        XCTAssertEqual(stack.tempFiles(), [])
    }

    func testFailureMidOntologyDeleteRollsBackToTheCheckpoint() throws {
        try start(["KG_TEST_FAIL_AFTER_STAGE": "deleting"])
        let before = try stack.graphChecksum()
        let (r, json) = try runJSON(["ontology", "delete", "Philosophy of Mind", "--yes"])
        XCTAssertEqual(r.exitCode, 1, r.summary + stack.logs)
        XCTAssertTrue((json["error"] as? String ?? "").contains("rolled back to checkpoint"), "\(json)")
        XCTAssertEqual(try stack.graphChecksum(), before, "the graph is exactly as before")
        let list = try stack.kg(["admin", "checkpoints", "list", "--json"])
        let listed = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any])?["checkpoints"] as? [[String: Any]]
        XCTAssertEqual(listed?.first?["checkpoint_id"] as? String, json["job_id"] as? String)
        XCTAssertEqual(listed?.first?["job_type"] as? String, "ontology_delete")
        XCTAssertEqual(checkpointFiles().count, 1)
    }
}
