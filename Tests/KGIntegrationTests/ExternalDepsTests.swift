import Foundation
import KGDatabase
import XCTest

/// `--external-deps fail|prune|defer` on an ontology backup whose edges name
/// concepts it does not hold, through the real system; `defer` connecting them
/// when the second ontology arrives.
final class ExternalDepsTests: XCTestCase {
    var stack: TestStack!

    override func setUpWithError() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 60, ontologies: 3, dimensions: 8)
        try stack.login()
    }

    override func tearDown() {
        stack?.stop()
    }

    func backup(_ ontology: String) throws -> String {
        let r = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", ontology])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func restore(_ file: String, _ extra: [String]) throws -> (CommandResult, [String: Any]) {
        let r = try stack.kg(["admin", "restore", file, "--yes", "--json"] + extra)
        let object = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
        return (r, object)
    }

    func waiting() throws -> [String: Any] {
        let r = try stack.kg(["admin", "stitch", "--pending", "--json"])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any] ?? [:]
    }

    func edgeCount(_ from: String, _ to: String) throws -> Int {
        let db = try stack.db()
        defer { db.close() }
        return Int(
            try db.query(
                "SELECT count(*) AS n FROM kg.relationships WHERE from_concept_id = $1 AND to_concept_id = $2",
                [from, to]
            ).first("n") ?? "0") ?? 0
    }

    func testEachStrategyAndDeferConnectsWhenTheSecondOntologyArrives() throws {
        let fileA = try backup("Philosophy of Mind"), fileB = try backup("Biología celular")
        let a = try BackupFile(path: fileA), b = try BackupFile(path: fileB)
        let inA = a.ids("concepts", "concept_id"), inB = b.ids("concepts", "concept_id")
        let external = a.section("relationships").filter { !inA.contains($0["to"] as! String) || !inA.contains($0["from"] as! String) }
        XCTAssertGreaterThan(external.count, 0, "the sample has edges out of the ontology")
        let reachableWithB = external.filter { inA.union(inB).contains($0["to"] as! String) && inA.union(inB).contains($0["from"] as! String) }
        XCTAssertGreaterThan(reachableWithB.count, 0)
        XCTAssertLessThan(reachableWithB.count, external.count, "some edges point at the third ontology")
        try stack.wipeGraph()
        let empty = try stack.graphChecksum()

        // fail: refused, nothing changed.
        let (failed, failedJSON) = try restore(fileA, ["--external-deps", "fail"])
        XCTAssertEqual(failed.exitCode, 1, failed.summary)
        XCTAssertTrue((failedJSON["error"] as? String ?? "").contains("\(external.count) relationships"), "\(failedJSON)")
        XCTAssertEqual(try stack.graphChecksum(), empty)

        // prune: dropped and counted.
        let (pruned, prunedJSON) = try restore(fileA, ["--external-deps", "prune"])
        XCTAssertEqual(pruned.exitCode, 0, pruned.summary)
        XCTAssertEqual(((prunedJSON["result"] as? [String: Any])?["pruned"] as? [String: Int])?["relationships"], external.count)
        XCTAssertEqual(try waiting()["relationships"] as? Int, 0, "prune keeps nothing aside")

        // defer: kept aside and counted; nothing connected yet.
        try stack.wipeGraph()
        let (deferred, deferredJSON) = try restore(fileA, ["--external-deps", "defer"])
        XCTAssertEqual(deferred.exitCode, 0, deferred.summary + stack.logs)
        let result = try XCTUnwrap(deferredJSON["result"] as? [String: Any])
        XCTAssertEqual((result["deferred"] as? [String: Int])?["relationships"], external.count, "\(result)")
        XCTAssertNil(result["connected"] as? [String: Int])
        XCTAssertTrue(deferred.stderr.contains("kept aside until their concepts arrive"), deferred.stderr)
        var pending = try waiting()
        XCTAssertEqual(pending["relationships"] as? Int, external.count)
        let missing = Set((pending["missing_concepts"] as? [[String: Any]] ?? []).compactMap { $0["concept_id"] as? String })
        XCTAssertTrue(missing.isSubset(of: Set(external.flatMap { [$0["from"] as! String, $0["to"] as! String] }).subtracting(inA)))
        let human = try stack.kg(["admin", "stitch", "--pending"])
        XCTAssertTrue(human.stdout.contains("waiting: 0 instance link(s), \(external.count) relationship(s)"), human.stdout)

        // The second ontology arrives: what now has both ends is connected.
        let (second, secondJSON) = try restore(fileB, [])
        XCTAssertEqual(second.exitCode, 0, second.summary + stack.logs)
        let connected = ((secondJSON["result"] as? [String: Any])?["connected"] as? [String: Int])?["relationships"]
        XCTAssertEqual(connected, reachableWithB.count, "\(secondJSON)")
        for edge in reachableWithB {
            XCTAssertGreaterThanOrEqual(try edgeCount(edge["from"] as! String, edge["to"] as! String), 1, "\(edge) is connected")
        }
        pending = try waiting()
        XCTAssertEqual(pending["relationships"] as? Int, external.count - reachableWithB.count, "the rest still waits")

        // Connecting twice adds nothing: a third restore connects no more.
        let (third, thirdJSON) = try restore(fileB, [])
        XCTAssertEqual(third.exitCode, 0, third.summary)
        XCTAssertNil((thirdJSON["result"] as? [String: Any])?["connected"] as? [String: Int])
    }

    /// `kg admin stitch --backup FILE`: one missing concept matched by label
    /// (case-insensitive), one by embedding; the rest keep waiting.
    func testStitchReconnectsByLabelAndEmbedding() throws {
        let full = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(full.exitCode, 0, full.summary)
        let fullFile = full.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let fileA = try backup("Philosophy of Mind")
        try stack.wipeGraph()
        // --external-deps stitch: the backup cannot say what the missing concepts are, so ids
        // are all a restore can match; the rest waits for `kg admin stitch --backup`.
        let (deferred, deferredJSON) = try restore(fileA, ["--external-deps", "stitch"])
        XCTAssertEqual(deferred.exitCode, 0, deferred.summary)
        XCTAssertGreaterThan(((deferredJSON["result"] as? [String: Any])?["deferred"] as? [String: Int])?["relationships"] ?? 0, 0)
        XCTAssertTrue(deferred.stderr.contains("kg admin stitch --backup FILE"), deferred.stderr)
        let pendingBefore = try waiting()
        let concepts = try XCTUnwrap(pendingBefore["missing_concepts"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(concepts.count, 3)
        let m1 = try XCTUnwrap(concepts[0]["concept_id"] as? String), m2 = try XCTUnwrap(concepts[1]["concept_id"] as? String)
        let expected = (concepts[0]["relationships"] as? Int ?? 0) + (concepts[1]["relationships"] as? Int ?? 0)
        let byID = Dictionary(uniqueKeysWithValues: try BackupFile(path: fullFile).section("concepts").map { ($0["concept_id"] as! String, $0) })
        let label = try XCTUnwrap(byID[m1]?["label"] as? String)
        let embedding = try XCTUnwrap(byID[m2]?["embedding"] as? [Double])
        let nudged = embedding.enumerated().map { $0.offset == 0 ? $0.element * 1.0001 : $0.element }
        let db = try stack.db()
        defer { db.close() }
        try db.query("INSERT INTO kg.concepts (concept_id, label) VALUES ('target_label', $1)", [label.uppercased()])
        try db.query(
            "INSERT INTO kg.concepts (concept_id, label, embedding) VALUES ('target_vec', 'another name', $1::float8[])",
            ["{" + nudged.map { String($0) }.joined(separator: ",") + "}"])
        let before = try stack.graphChecksum()

        let dryRun = try stack.kg(["admin", "stitch", "--backup", fullFile, "--threshold", "0.999", "--dry-run", "--json"])
        XCTAssertEqual(dryRun.exitCode, 0, dryRun.summary + stack.logs)
        XCTAssertEqual(try stack.graphChecksum(), before, "a dry run changes nothing")

        let r = try stack.kg(["admin", "stitch", "--backup", fullFile, "--threshold", "0.999", "--json"])
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let result = try XCTUnwrap(object["result"] as? [String: Any], "\(object)")
        let reconnections = try XCTUnwrap(result["reconnections"] as? [[String: Any]])
        XCTAssertEqual(reconnections.count, 2, "\(reconnections)")
        XCTAssertTrue(
            reconnections.contains {
                $0["missing"] as? String == m1 && $0["concept_id"] as? String == "target_label" && $0["how"] as? String == "label"
            })
        XCTAssertTrue(
            reconnections.contains {
                $0["missing"] as? String == m2 && $0["concept_id"] as? String == "target_vec" && $0["how"] as? String == "embedding"
                    && ($0["similarity"] as? Double ?? 0) >= 0.999
            })
        XCTAssertEqual((result["connected"] as? [String: Int])?["relationships"], expected)
        XCTAssertEqual(
            Int(
                try db.query(
                    """
                    SELECT count(*) AS n FROM kg.relationships WHERE to_concept_id IN ('target_label', 'target_vec')
                    """
                ).first("n") ?? "0"), expected)
        XCTAssertEqual(try waiting()["relationships"] as? Int, (pendingBefore["relationships"] as? Int ?? 0) - expected)
        XCTAssertTrue(r.stderr.contains("\(m1) → target_label  by label"), r.stderr)
        XCTAssertEqual((result["checkpoint"] as? String), "deleted")
    }

    /// A failure injected in the middle of a stitch (after its reconnections): the
    /// graph and the pending links are exactly as before; the checkpoint is kept and listed.
    func testFailureMidStitchRollsBackToTheCheckpoint() throws {
        stack.stop()
        stack = try TestStack(environment: ["KG_TEST_FAIL_AFTER_STAGE": "stitching"])
        try stack.loadSample(concepts: 60, ontologies: 3, dimensions: 8)
        try stack.login()
        let full = try stack.kg(["admin", "backup", "--type", "full"])
        let fullFile = full.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let fileA = try backup("Philosophy of Mind")
        try stack.wipeGraph()
        XCTAssertEqual(try restore(fileA, ["--external-deps", "defer"]).0.exitCode, 0)
        let pendingBefore = try waiting()
        let m1 = try XCTUnwrap((pendingBefore["missing_concepts"] as? [[String: Any]])?.first?["concept_id"] as? String)
        let label = try XCTUnwrap(try BackupFile(path: fullFile).section("concepts").first { $0["concept_id"] as? String == m1 }?["label"] as? String)
        let db = try stack.db()
        defer { db.close() }
        try db.query("INSERT INTO kg.concepts (concept_id, label) VALUES ('target_label', $1)", [label])
        let before = try stack.graphChecksum()
        let pendingRows = try db.query("SELECT md5(string_agg(p::text, '|' ORDER BY pending_id)) AS d FROM kg_api.pending_links p").first("d")

        let r = try stack.kg(["admin", "stitch", "--backup", fullFile, "--json"])
        XCTAssertEqual(r.exitCode, 1, r.summary + stack.logs)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertTrue((object["error"] as? String ?? "").contains("rolled back to checkpoint"), "\(object)")
        XCTAssertEqual(try stack.graphChecksum(), before, "the graph is exactly as before")
        XCTAssertEqual(
            try db.query("SELECT md5(string_agg(p::text, '|' ORDER BY pending_id)) AS d FROM kg_api.pending_links p").first("d"),
            pendingRows, "the pending links are exactly as before")
        let list = try stack.kg(["admin", "checkpoints", "list"])
        XCTAssertTrue(list.stdout.contains(object["job_id"] as? String ?? "?") && list.stdout.contains("stitch"), list.stdout)
    }
}
