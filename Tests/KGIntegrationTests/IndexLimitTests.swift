import Foundation
import KGDatabase
import KGFormat
import KGTestSupport
import XCTest

/// A value too long for one of PostgreSQL's indexes passes the file's rules (they
/// are about shape and references; PostgreSQL decides what it can index, after
/// compression) and is refused while the restore loads or applies the records.
/// Whatever index refuses it — a staging index, a live table's primary key, a
/// two-column key — the job fails with nothing changed and names the section
/// and field of the backup that holds the value (the fuzz run found
/// `ontologies_pkey` reported as "a value in it").
final class IndexLimitTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    /// Random letters and digits: PostgreSQL cannot compress them below the index limit.
    private func incompressible(_ count: Int, seed: UInt64) -> String {
        var rng = SeededGenerator(seed: seed)
        return String(
            (0..<count).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &rng)! })
    }

    func testEveryIndexThatRefusesAValueIsNamedAsSectionAndField() throws {
        stack = try TestStack(workers: 1)
        try stack.login()
        try stack.loadSample(concepts: 6, ontologies: 2, dimensions: 4)
        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary)
        let path = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let tree = try JSONValue.parse(try String(contentsOfFile: path, encoding: .utf8))
        let data = try XCTUnwrap(tree["data"])
        let ontology = try XCTUnwrap(data["ontologies"]?.arrayValue?.first?["name"]?.stringValue)
        let concepts = try XCTUnwrap(data["concepts"]?.arrayValue)
        let instances = try XCTUnwrap(data["instances"]?.arrayValue)
        let evidenced = try XCTUnwrap(instances.first { $0["concept_id"]?.stringValue != nil })
        let conceptID = try XCTUnwrap(evidenced["concept_id"]?.stringValue)
        let conceptIndex = try XCTUnwrap(
            concepts.firstIndex { $0["concept_id"]?.stringValue == conceptID })
        let instanceID = try XCTUnwrap(evidenced["instance_id"]?.stringValue)
        let vocabularyType = try XCTUnwrap(
            data["vocabulary"]?.arrayValue?.first?["relationship_type"]?.stringValue)
        let before = try stack.fingerprint(.content)

        let long = incompressible(6000, seed: 11)
        var cases: [(name: String, document: JSONValue, mode: String, expect: String)] = [
            // kg.ontologies' key, from the file's ontology list (the first apply statement).
            (
                "an ontology renamed everywhere", tree.replacingStrings(ontology, with: long), "merge",
                "a record of ontologies, field name"
            ),
            // The same key, from a source's document that is in no ontology list (the second statement).
            (
                "a source's document",
                tree.setting(["data", "sources", "0", "document"], to: .string(long)), "merge",
                "a record of sources, field document"
            ),
            (
                "a vocabulary type",
                tree.setting(["data", "vocabulary", "0", "relationship_type"], to: .string(long)), "merge",
                "a record of vocabulary, field relationship_type"
            ),
            // A replace copies concepts straight into kg.concepts: the record's position is known.
            (
                "a concept id, replace", tree.replacingStrings(conceptID, with: long), "replace",
                "concepts[\(conceptIndex)], field concept_id"
            ),
            (
                "a concept id, merge", tree.replacingStrings(conceptID, with: long), "merge",
                "a record of concepts, field concept_id"
            ),
            (
                "an instance id", tree.replacingStrings(instanceID, with: long), "merge",
                "a record of instances, field instance_id"
            ),
            // Each half fits an index alone; the evidence key holds both.
            (
                "an evidence pair",
                tree.replacingStrings(conceptID, with: incompressible(1500, seed: 12))
                    .replacingStrings(instanceID, with: incompressible(1500, seed: 13)), "replace",
                "a record of instances, fields instance_id and concept_id"
            ),
        ]
        // A long repetitive value compresses, but not below a page: PostgreSQL's refusal
        // ("index row requires 12024 bytes, maximum size is 8191") names no index; the
        // statement that failed names the field (the fuzz run's second finding).
        let repetitive = String(repeating: "🧠", count: 262_144)
        cases += [
            (
                "a repetitive 1 MiB concept id, merge", tree.replacingStrings(conceptID, with: repetitive), "merge",
                "a record of concepts, field concept_id"
            ),
            (
                "a repetitive 1 MiB concept id, replace", tree.replacingStrings(conceptID, with: repetitive), "replace",
                "concepts[\(conceptIndex)], field concept_id"
            ),
            (
                "a repetitive 1 MiB vocabulary type", tree.setting(["data", "vocabulary", "0", "relationship_type"], to: .string(repetitive)),
                "merge", "a record of vocabulary, field relationship_type"
            ),
            (
                "a repetitive 1 MiB ontology name", tree.replacingStrings(ontology, with: repetitive), "merge",
                "a record of ontologies, field name"
            ),
        ]
        // A relationship type the vocabulary lacks joins kg.vocabulary: its value is the
        // relationship's (system fuzz seed 1934783941781446578 named no field).
        cases += [
            (
                "a relationship type the vocabulary lacks", tree.setting(["data", "relationships", "0", "type"], to: .string(long)),
                "merge", "a record of relationships, field type"
            ),
            (
                "a repetitive 1 MiB relationship type the vocabulary lacks, replace",
                tree.setting(["data", "relationships", "0", "type"], to: .string(repetitive)), "replace",
                "a record of relationships, field type"
            ),
        ]
        XCTAssertNotEqual(vocabularyType, "", "the sample has a vocabulary")
        for c in cases {
            let file = stack.root + "/index-limit.json"
            try Data(c.document.jsonBytes).write(to: URL(fileURLWithPath: file))
            let upload = try stack.uploadRestore(file, fields: ["mode": c.mode, "dry_run": "true"])
            XCTAssertEqual(upload.status, 202, "\(c.name): the file's rules accept it: \(upload.json)")
            guard let id = upload.json["job_id"] as? String else { continue }
            let job = try stack.waitForJob(id)
            let error = job["error"] as? String ?? ""
            XCTAssertEqual(job["status"] as? String, "failed", "\(c.name): \(job)")
            XCTAssertTrue(
                error.contains("the backup cannot be restored: \(c.expect): "),
                "\(c.name): expected \(c.expect) in\n\(error)")
            XCTAssertTrue(
                error.contains("cannot be indexed; shorten it") && error.contains("Nothing was changed"),
                "\(c.name): \(error)")
            XCTAssertTrue(
                FuzzTests.namesRefusedRecordAndField(error), "\(c.name): the fuzz run's rule: \(error)")
        }
        XCTAssertEqual(try stack.fingerprint(.content), before, "a refused restore changed the graph")
    }

    /// A replace loads concepts in binary and sets their `created_at` afterwards with one
    /// `UPDATE` that PostgreSQL parses: a time it cannot read is refused with no line of a
    /// COPY to name, so the statement names the field (system fuzz seed 5131482628278527552:
    /// a number as `created_at` failed with "a value in it").
    func testATimeThatPostgreSQLCannotParseIsNamedAsSectionAndField() throws {
        stack = try TestStack(workers: 1)
        try stack.login()
        try stack.loadSample(concepts: 6, ontologies: 2, dimensions: 4)
        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary)
        let tree = try JSONValue.parse(
            try String(contentsOfFile: backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines), encoding: .utf8))
        let before = try stack.fingerprint(.content)
        for (name, value) in [("a number", JSONValue.number("1e999999")), ("a string", .string("the day after tomorrow"))] {
            let file = stack.root + "/bad-time.json"
            try Data(tree.setting(["data", "concepts", "2", "created_at"], to: value).jsonBytes).write(to: URL(fileURLWithPath: file))
            let upload = try stack.uploadRestore(file, fields: ["mode": "replace"])
            XCTAssertEqual(upload.status, 202, "\(name): the file's rules accept it: \(upload.json)")
            guard let id = upload.json["job_id"] as? String else { continue }
            let job = try stack.waitForJob(id)
            let error = job["error"] as? String ?? ""
            XCTAssertEqual(job["status"] as? String, "failed", "\(name): \(job)")
            XCTAssertTrue(
                error.contains("the backup cannot be restored: a record of concepts, field created_at: invalid input syntax"),
                "\(name): \(error)")
            XCTAssertTrue(FuzzTests.namesRefusedRecordAndField(error), "\(name): the fuzz run's rule: \(error)")
        }
        XCTAssertEqual(try stack.fingerprint(.content), before, "a refused restore changed the graph")
    }

    /// Every index of the graph's schema over a text column has a name in the worker's
    /// table (`RestoreErrorMessage.liveIndexes`), so a migration that adds one is caught here.
    func testEveryGraphIndexOverTextIsKnownToTheWorker() throws {
        stack = try TestStack(workers: 0)
        let db = try stack.db()
        defer { db.close() }
        let rows = try db.query(
            """
            SELECT DISTINCT i.relname AS name FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
            JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey)
            WHERE n.nspname = 'kg' AND a.atttypid = 'text'::regtype ORDER BY 1
            """
        ).rows.compactMap { $0[0] }
        let source = try String(
            contentsOfFile: DeployFiles.path("Sources/KGWorker/Restore/RestoreErrorMessage.swift"),
            encoding: .utf8)
        XCTAssertGreaterThanOrEqual(rows.count, 10, "\(rows)")
        for name in rows {
            XCTAssertTrue(
                source.contains("\"\(name)\": Located("),
                "index kg.\(name) is not in RestoreErrorMessage.liveIndexes")
        }
    }
}
