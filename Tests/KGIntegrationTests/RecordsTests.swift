import Foundation
import KGClient
import XCTest

/// Issue 13: the id checks keep a memory budget and spill sorted runs to temp
/// storage past it. With a budget so small that every check spills (gateway and
/// workers: `id_check_memory_bytes`; the CLI: `KG_ID_CHECK_MEMORY_BYTES`), the
/// findings and counts are those of the in-memory check, in the CLI, the gateway
/// and the worker, concepts first or data first; restores load the same graph;
/// no temp file is left.
final class RecordsTests: XCTestCase {
    /// Bytes: a few id facts per run.
    static let tiny = "256"
    var stack: TestStack!

    override func setUpWithError() throws {
        stack = try TestStack(environment: ["KG_ID_CHECK_MEMORY_BYTES": Self.tiny])
        try stack.loadSample(concepts: 150, ontologies: 3, dimensions: 4)
        try stack.login()
    }

    override func tearDown() {
        stack?.stop()
    }

    private func backupFull() throws -> String {
        let r = try stack.kg(["admin", "backup", "--type", "full"], extra: ["KG_ID_CHECK_MEMORY_BYTES": Self.tiny])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `kg admin verify --json --offline`, with the tiny budget or the default one.
    private func verify(_ path: String, tiny: Bool, extra: [String: String] = [:]) throws -> (CommandResult, NSDictionary) {
        let env = (tiny ? ["KG_ID_CHECK_MEMORY_BYTES": Self.tiny] : [:]).merging(extra) { _, new in new }
        let r = try stack.kg(["admin", "verify", path, "--json", "--offline"], extra: env)
        let json = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
        // `digest` is the local file's `.sha256` (issue 17: names the file), not a finding of the checker:
        // the checks compared here are the checker's, the same for any file and for the gateway.
        return (r, json.filter { $0.key != "digest" } as NSDictionary)
    }

    /// `POST /admin/backup/verify` to the stack's gateway (tiny budget).
    private func gatewayVerify(_ path: String) throws -> NSDictionary {
        let client = HTTPClient(baseURL: stack.apiURL, token: try stack.token())
        let answer = try client.uploadMultipart(
            path: "/admin/backup/verify", fields: [], fileField: "file", filePath: path,
            fileName: URL(fileURLWithPath: path).lastPathComponent,
            contentType: "application/json", onProgress: { _, _ in })
        XCTAssertEqual(answer.status, 200)
        return (try JSONSerialization.jsonObject(with: answer.body) as? NSDictionary) ?? [:]
    }

    /// `file` with its sections in `order`, `extra` records appended per section, metadata first.
    private func write(_ file: BackupFile, order: [String], extra: [String: [[String: Any]]], to path: String) throws {
        func json(_ value: Any) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]), as: UTF8.self)
        }
        var members: [String] = []
        for key in ["version", "type", "timestamp", "schema_version", "producer"] {
            if let value = file.object[key] { members.append("\(try json(key)): \(try json(value))") }
        }
        var statistics = file.statistics
        for (section, records) in extra { statistics[section, default: 0] += records.count }
        members.append("\"statistics\": \(try json(statistics))")
        let sections = try order.filter { file.data[$0] != nil }.map { name in
            "\(try json(name)): \(try json(file.section(name) + (extra[name] ?? [])))"
        }
        members.append("\"data\": {" + sections.joined(separator: ",\n") + "}")
        try Data(("{" + members.joined(separator: ",\n") + "}\n").utf8).write(to: URL(fileURLWithPath: path))
    }

    func testFindingsAndCountsAreTheSameSpilledOrNotInAnyOrder() throws {
        let file = try BackupFile(path: try backupFull())
        let concept = try XCTUnwrap(file.section("concepts").first)
        let source = try XCTUnwrap(file.section("sources").first)
        let instance = try XCTUnwrap(file.section("instances").first)
        let conceptID = try XCTUnwrap(concept["concept_id"] as? String)
        let sourceID = try XCTUnwrap(source["source_id"] as? String)
        var disagreeing = instance
        disagreeing["quote"] = "another quote for the same instance"
        var edge = try XCTUnwrap(file.section("relationships").first)
        edge["to"] = "missing-concept-2"
        var edgeBetweenMissing = edge
        edgeBetweenMissing["from"] = "missing-a"
        edgeBetweenMissing["to"] = "missing-b"
        let extra: [String: [[String: Any]]] = [
            "concepts": [concept],
            "sources": [source],
            "instances": [
                ["instance_id": "records-extra-1", "quote": "q", "concept_id": "missing-concept-1", "source_id": sourceID],
                disagreeing,
            ],
            "relationships": [edge, edgeBetweenMissing],
        ]
        let conceptsFirst = stack.root + "/broken-concepts-first.json", dataFirst = stack.root + "/broken-data-first.json"
        try write(file, order: ["vocabulary", "ontologies", "concepts", "sources", "instances", "relationships"], extra: extra, to: conceptsFirst)
        try write(file, order: ["relationships", "instances", "sources", "concepts", "vocabulary", "ontologies"], extra: extra, to: dataFirst)

        var messages: [Set<String>] = []
        for path in [conceptsFirst, dataFirst] {
            let (inMemory, expected) = try verify(path, tiny: false)
            let (spilled, report) = try verify(path, tiny: true)
            XCTAssertEqual(inMemory.exitCode, 1, inMemory.summary)
            XCTAssertEqual(spilled.exitCode, 1, spilled.summary)
            XCTAssertEqual(report, expected, "the CLI, spilled and in memory: \(path)")
            XCTAssertEqual(try gatewayVerify(path), expected, "the gateway (spilled) and the CLI: \(path)")
            let errors = (report["errors"] as? [[String: String]] ?? []).compactMap { $0["message"] }
            XCTAssertTrue(errors.contains { $0.hasPrefix("concept \(conceptID) is defined more than once") }, "\(errors)")
            XCTAssertTrue(errors.contains { $0.hasPrefix("source \(sourceID) is defined more than once") }, "\(errors)")
            XCTAssertTrue(
                errors.contains {
                    $0.hasSuffix(
                        "with another quote or source; the rows of one instance (one per concept it evidences) carry the same quote and source")
                }, "\(errors)")
            for missing in ["missing-concept-1", "missing-concept-2", "missing-a", "missing-b"] {
                XCTAssertTrue(errors.contains { $0.contains("names concept \(missing), which the file does not contain") }, "\(missing): \(errors)")
            }
            XCTAssertEqual(errors.count, 7, "\(errors)")
            messages.append(Set(errors))
        }
        // The same records, in another order: the same findings (their order follows the file).
        XCTAssertEqual(messages[0], messages[1])
    }

    func testRestoresWithATinyBudgetLoadTheSameGraph() throws {
        let before = try stack.fingerprint(.content)
        let path = try backupFull()
        let dataFirst = stack.root + "/data-first.json"
        let rewrite = try runCommand(stack.binDir + "/kg-sample", ["data-first", path, dataFirst], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(rewrite.exitCode, 0, rewrite.summary)
        let (check, report) = try verify(dataFirst, tiny: true)
        XCTAssertEqual(check.exitCode, 0, check.summary)
        XCTAssertEqual(report, try verify(path, tiny: false).1, "data first or not, spilled or not: the same report")

        for file in [dataFirst, path] {
            try stack.wipeGraph()
            let r = try stack.kg(["admin", "restore", file, "--yes", "--json"], extra: ["KG_ID_CHECK_MEMORY_BYTES": Self.tiny])
            XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
            try stack.assertGraph(
                equals: before, "replace restore of \(URL(fileURLWithPath: file).lastPathComponent) with a tiny budget",
                scope: .content)
        }
        XCTAssertEqual(stack.tempFiles(), [], "no temp file left")
    }

    /// Proof that the tiny budget spills: with nowhere to spill, the check says so
    /// (and is invalid) instead of guessing; with the default budget nothing spills.
    func testACheckWithNowhereToSpillSaysSo() throws {
        let path = try backupFull()
        let nowhere = ["TMPDIR": stack.root + "/no/such/folder"]
        let (spilled, report) = try verify(path, tiny: true, extra: nowhere)
        XCTAssertEqual(spilled.exitCode, 1, spilled.summary)
        let errors = (report["errors"] as? [[String: String]] ?? []).compactMap { $0["message"] }
        XCTAssertTrue(errors.contains { $0.contains("the id checks need temp storage") && $0.contains("no/such/folder") }, "\(errors)")
        XCTAssertEqual(try verify(path, tiny: false, extra: nowhere).0.exitCode, 0)
    }
}
