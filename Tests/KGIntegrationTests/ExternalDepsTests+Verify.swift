import Foundation
import KGClient
import XCTest

/// `kg admin verify` counts the records that name an ontology backup's external
/// dependencies; a real restore with `--external-deps prune` drops exactly those
/// when the graph holds none of the concepts (or in replace mode), and fewer
/// when a merge finds some of them in the graph.
extension ExternalDepsTests {
    func testVerifyCountsWhatPruneDrops() throws {
        let fileA = try backup("Philosophy of Mind"), fileB = try backup("Biología celular")
        let a = try BackupFile(path: fileA), b = try BackupFile(path: fileB)
        let inA = a.ids("concepts", "concept_id"), inAorB = inA.union(b.ids("concepts", "concept_id"))
        let source = try XCTUnwrap(a.section("sources").first?["source_id"] as? String)
        let ofB = try XCTUnwrap(inAorB.subtracting(inA).sorted().first)
        // Two instances the sample never makes: one names a concept of B, one a concept nobody holds.
        let extra: [[String: Any]] = [
            ["instance_id": "verify-ext-1", "quote": "names a concept of another ontology", "concept_id": ofB, "source_id": source],
            ["instance_id": "verify-ext-2", "quote": "names a concept nobody holds", "concept_id": "no-such-concept", "source_id": source],
        ]
        let path = stack.root + "/ontology-data-first.json"
        try writeDataFirst(a, addingInstances: extra, to: path)
        func ends(_ edge: [String: Any]) -> [String] { [edge["from"] as! String, edge["to"] as! String] }
        let edges = a.section("relationships")
        let outsideA = edges.filter { !ends($0).allSatisfy(inA.contains) }.count
        let outsideAandB = edges.filter { !ends($0).allSatisfy(inAorB.contains) }.count
        XCTAssertGreaterThan(outsideAandB, 0, "some edges point at the third ontology")
        XCTAssertLessThan(outsideAandB, outsideA, "some edges point at B")

        let verify = try stack.kg(["admin", "verify", path, "--json", "--offline"])
        XCTAssertEqual(verify.exitCode, 0, verify.summary)
        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any])
        let counted = try XCTUnwrap(report["external_references"] as? [String: Int], "\(report)")
        XCTAssertEqual(counted, ["instances": 2, "relationships": outsideA])
        let text = try stack.kg(["admin", "verify", path, "--offline"])
        XCTAssertTrue(text.stdout.contains(", named by 2 instances and \(outsideA) relationships\n"), text.stdout)
        XCTAssertTrue(text.stdout.contains("    prune (default): dropped"), text.stdout)
        // The gateway's check is the same checker: POST /admin/backup/verify says the same.
        let client = HTTPClient(baseURL: stack.apiURL, token: try stack.token())
        let answer = try client.uploadMultipart(
            path: "/admin/backup/verify", fields: [], fileField: "file", filePath: path,
            fileName: "ontology-data-first.json", contentType: "application/json",
            onProgress: { _, _ in })
        XCTAssertEqual(answer.status, 200)
        let gatewayReport = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
        XCTAssertEqual(gatewayReport?["external_references"] as? [String: Int], counted)

        func pruned(_ extra: [String]) throws -> [String: Int]? {
            let (r, json) = try restore(path, ["--external-deps", "prune"] + extra)
            XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
            return (json["result"] as? [String: Any])?["pruned"] as? [String: Int]
        }
        // An empty graph holds none of the concepts: prune drops exactly what verify counted.
        try stack.wipeGraph()
        XCTAssertEqual(try pruned([]), counted)
        // A merge into a graph that holds B connects what names B's concepts: fewer are dropped.
        try stack.wipeGraph()
        XCTAssertEqual(try restore(fileB, []).0.exitCode, 0)
        XCTAssertEqual(try pruned([]), ["instances": 1, "relationships": outsideAandB])
        // A replace empties the graph first, B or not: exactly what verify counted.
        XCTAssertEqual(try pruned(["--mode", "replace"]), counted)
    }

    /// `file` again with `extra` instances, its sections data first (relationships
    /// and instances before the concepts they name), metadata first.
    private func writeDataFirst(_ file: BackupFile, addingInstances extra: [[String: Any]], to path: String) throws {
        func json(_ value: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
        }
        var sections = file.data
        sections["instances"] = file.section("instances") + extra
        var statistics = file.statistics
        statistics["instances", default: 0] += extra.count
        var members: [String] = []
        for key in ["version", "type", "timestamp", "ontology", "schema_version", "producer"] {
            if let value = file.object[key] { members.append("\(try json(key)): \(try json(value))") }
        }
        members.append("\"statistics\": \(try json(statistics))")
        let order = ["relationships", "instances", "sources", "vocabulary", "concepts"].filter { sections[$0] != nil }
        members.append("\"data\": {" + (try order.map { "\(try json($0)): \(try json(sections[$0]!))" }.joined(separator: ", ")) + "}")
        try Data(("{" + members.joined(separator: ",\n") + "}\n").utf8).write(to: URL(fileURLWithPath: path))
    }
}
