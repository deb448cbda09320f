import Foundation
import KGBroker
import KGDatabase
import KGFormat
import KGTestSupport
import XCTest

/// Schema versions: older backups convert forward while streaming, newer ones
/// are refused at the gateway and at the worker, and the platform's own files restore.
final class SchemaTests: XCTestCase {
    var stack: TestStack!

    override func setUpWithError() throws {
        stack = try TestStack()
    }

    override func tearDown() {
        stack?.stop()
    }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    func restore(_ path: String, fields: [String: String] = [:]) throws -> [String: Any] {
        let (status, json) = try stack.uploadRestore(path, fields: fields)
        XCTAssertEqual(status, 202, "\(json)")
        return try stack.waitForJob(try XCTUnwrap(json["job_id"] as? String))
    }

    func testOlderFixturesRestoreAndThenRoundTripLosslessly() throws {
        for (name, version) in [("full_backup_schema_v1.json", 1), ("full_backup_schema_v3.json", 3)] {
            try stack.wipeGraph()
            let path = Self.fixtures + "/" + name
            let fixture = try BackupFile(path: path)
            XCTAssertEqual(fixture.object["schema_version"] as? Int, version)
            let job = try restore(path)
            XCTAssertEqual(job["status"] as? String, "completed", "\(name): \(job)\n\(stack.logs)")
            let result = try XCTUnwrap(job["result"] as? [String: Any])
            let warnings = result["warnings"] as? [String] ?? []
            XCTAssertTrue(warnings.contains { $0.contains("convert from schema v\(version) to v\(SchemaConverters.latestVersion)") }, "\(warnings)")
            XCTAssertEqual((result["restored"] as? [String: Int])?["concepts"], fixture.statistics["concepts"])

            let db = try stack.db()
            defer { db.close() }
            func synonyms(_ type: String) throws -> String? {
                try db.query("SELECT synonyms::text AS s FROM kg.vocabulary WHERE relationship_type = $1", [type]).first("s")
            }
            XCTAssertEqual(try synonyms("INSPIRED_BY"), "{influenced_by,draws_on}")
            XCTAssertEqual(try synonyms("CRITIQUES"), nil, "\"null\" means SQL NULL")
            XCTAssertEqual(try synonyms("TRANSLATES_TO"), "{renders_as}", "a JSON list in a string is parsed")
            XCTAssertEqual(
                try db.query("SELECT count(*) AS n FROM kg.concepts WHERE created_at IS NOT NULL").first("n"), "0",
                "concepts from before v4 have no known creation time")
            XCTAssertEqual(Int(try db.query("SELECT count(*) AS n FROM kg.relationships").first("n")!), fixture.statistics["relationships"])

            // Lossless from here on: backup, restore, backup again.
            try stack.login()
            let first = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let again = try restore(first)
            XCTAssertEqual(again["status"] as? String, "completed")
            XCTAssertEqual(((again["result"] as? [String: Any])?["warnings"] as? [String])?.contains { $0.contains("convert") }, false)
            let second = try stack.kg(["admin", "backup", "--type", "full"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let a = try BackupFile(path: first)
            let b = try BackupFile(path: second)
            XCTAssertEqual(a.object["schema_version"] as? Int, SchemaConverters.latestVersion)
            XCTAssertTrue(NSDictionary(dictionary: a.data).isEqual(to: b.data), "\(name): a round trip after conversion is lossless")
        }
    }

    func testOlderOntologyFixtureMerges() throws {
        let path = Self.fixtures + "/ontology_backup_schema_v3.json"
        let job = try restore(path)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)")
        XCTAssertEqual((job["result"] as? [String: Any])?["mode"] as? String, "merge")
        let fixture = try BackupFile(path: path)
        let db = try stack.db()
        defer { db.close() }
        let ids = Set(try db.query("SELECT concept_id FROM kg.concepts").rows.compactMap { $0[0] })
        XCTAssertEqual(ids, fixture.ids("concepts", "concept_id"))
    }

    func testNewerBackupIsRefusedAtTheGatewayAndAtTheWorker() throws {
        try stack.loadSample(concepts: 10, dimensions: 4)
        let before = try stack.graphChecksum()
        let text = try String(contentsOfFile: Self.fixtures + "/full_backup_schema_v3.json", encoding: .utf8)
            .replacingOccurrences(of: "\"schema_version\":3,", with: "\"schema_version\":99,")
        let path = stack.root + "/newer.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let expected = "backup needs schema v99, database is at v\(SchemaConverters.latestVersion): apply migrations first"

        let (status, json) = try stack.uploadRestore(path)
        XCTAssertEqual(status, 409)
        XCTAssertTrue((json["error"] as? String ?? "").contains(expected), "\(json)")
        XCTAssertEqual(try stack.jobCount(), 0)
        XCTAssertEqual(stack.tempFiles(), [])

        // The CLI says so too, and `kg admin verify` predicts it.
        try stack.login()
        let cli = try stack.kg(["admin", "restore", path, "--yes"])
        XCTAssertEqual(cli.exitCode, 1, cli.summary)
        XCTAssertTrue(cli.stderr.contains(expected), cli.stderr)
        let verify = try stack.kg(["admin", "verify", path])
        XCTAssertTrue(verify.stdout.contains("refuse: backup needs schema v99"), verify.summary)

        // The worker refuses it on its own when handed the file directly.
        let id = UUID().uuidString.lowercased()
        let temp = stack.tempDir + "/restore_\(id).json"
        try text.write(toFile: temp, atomically: true, encoding: .utf8)
        let params = RestoreJobParams(
            mode: .replace, dryRun: false, externalDeps: .fail, tempFile: temp, fileName: "newer.json",
            fileBytes: text.utf8.count, backupType: "full_backup", ontology: nil, statistics: [:])
        let db = try stack.db()
        defer { db.close() }
        try JobStore(db).create(
            jobID: id, type: "restore", username: "admin",
            params: String(decoding: try JSONEncoder().encode(params), as: UTF8.self), tempFile: temp)
        let publisher = JobPublisher(url: try AMQPURL(stack.amqpURL), topology: JobTopology(prefix: stack.prefix))
        defer { publisher.shutdown() }
        let body = try JSONEncoder().encode(JobMessage(jobID: id, jobType: "restore"))
        let sent = expectation(description: "published")
        Task {
            try await publisher.publish(job: Array(body), messageId: id)
            sent.fulfill()
        }
        wait(for: [sent], timeout: 10)
        let job = try stack.waitForJob(id)
        XCTAssertEqual(job["status"] as? String, "failed")
        XCTAssertTrue((job["error"] as? String ?? "").contains(expected), "\(job)")
        XCTAssertEqual(try stack.graphChecksum(), before, "nothing changed")
        XCTAssertEqual(stack.tempFiles(), [])
    }

    func testVerifyPredictsConversion() throws {
        try stack.login()
        let r = try stack.kg(["admin", "verify", Self.fixtures + "/full_backup_schema_v1.json", "--json"])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        let report = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(report["schema_version"] as? Int, 1)
        let plan = report["restore_plan"] as? [String: Any]
        XCTAssertEqual(plan?["action"] as? String, "convert")
        XCTAssertEqual(plan?["database_schema_version"] as? Int, SchemaConverters.latestVersion)
        let offline = try stack.kg(["admin", "verify", Self.fixtures + "/full_backup_schema_v1.json", "--server", "http://127.0.0.1:\(freePort())"])
        XCTAssertEqual(offline.exitCode, 0, "no server is needed")
        XCTAssertFalse(offline.stdout.contains("restore into"))
    }

    // MARK: The platform's own files

    /// A file as the platform writes it: two-space indentation, \u escapes, no
    /// producer, its own schema_version numbering, quirks in every section.
    static func platformFile(withVocabulary: Bool, embedding: [Double]) -> String {
        let numbers = embedding.map { "\($0)" }.joined(separator: ",\n        ")
        let vocabulary =
            withVocabulary
            ? """
              "vocabulary": [
                {
                  "relationship_type": "IMPLIES",
                  "description": "If the source holds, the target holds.",
                  "category": "logical_truth",
                  "added_by": "system",
                  "added_at": "2025-10-01T10:00:00.123456+00:00",
                  "usage_count": 3,
                  "is_active": true,
                  "is_builtin": true,
                  "synonyms": "null",
                  "deprecation_reason": null,
                  "embedding_model": null,
                  "embedding_generated_at": null,
                  "embedding": null
                },
                {
                  "relationship_type": "INSPIRES",
                  "description": "Custom \\u00e9dition",
                  "category": "custom",
                  "added_by": "llm",
                  "added_at": "2025-10-02T10:00:00+00:00",
                  "usage_count": 1,
                  "is_active": true,
                  "is_builtin": false,
                  "synonyms": "[\\"motivates\\", \\"sparks\\"]",
                  "deprecation_reason": null,
                  "embedding_model": "text-embedding-3-small",
                  "embedding_generated_at": "2025-10-02T10:00:01+00:00",
                  "embedding": [0.25, -0.5]
                },
                {
                  "relationship_type": "OLD_LINK",
                  "description": null,
                  "category": "custom",
                  "added_by": "user",
                  "added_at": "2025-10-03T10:00:00+00:00",
                  "usage_count": 0,
                  "is_active": false,
                  "is_builtin": false,
                  "synonyms": "[]",
                  "deprecation_reason": "merged into IMPLIES",
                  "embedding_model": null,
                  "embedding_generated_at": null,
                  "embedding": null
                }
              ],

            """ : ""
        return """
            {
              "version": "1.0",
              "type": "full_backup",
              "timestamp": "2025-10-09T08:15:00.000000Z",
              "ontology": null,
              "schema_version": 12,
              "statistics": {
                "concepts": 2,
                "sources": 2,
                "instances": 2,
                "relationships": 2\(withVocabulary ? ",\n    \"vocabulary\": 3" : "")
              },
              "data": {
            \(vocabulary)    "concepts": [
                  {
                    "concept_id": "c_caf\\u00e9",
                    "label": "caf\\u00e9 \\u77e5\\u8b58 \\ud83e\\udde0",
                    "search_terms": ["caf\\u00e9", "coffee"],
                    "embedding": [
                    \(numbers)
                    ]
                  },
                  {
                    "concept_id": "c_two",
                    "label": "Second \\"quoted\\" concept",
                    "search_terms": [],
                    "embedding": []
                  }
                ],
                "sources": [
                  {
                    "source_id": "s1",
                    "document": "Plattform Dokument",
                    "paragraph": 1,
                    "full_text": "Line one\\nLine two \\u2014 with a dash",
                    "file_path": "None"
                  },
                  {
                    "source_id": "s2",
                    "document": "Plattform Dokument",
                    "paragraph": 2,
                    "full_text": "Second paragraph",
                    "file_path": "docs/p.md",
                    "content_type": "text/markdown",
                    "garage_key": "g/2"
                  }
                ],
                "instances": [
                  {"instance_id": "i1", "quote": "\\u201cquoted\\u201d", "concept_id": "c_caf\\u00e9", "source_id": "s1"},
                  {"instance_id": "i1", "quote": "\\u201cquoted\\u201d", "concept_id": "c_two", "source_id": "s1"}
                ],
                "relationships": [
                  {"from": "c_caf\\u00e9", "to": "c_two", "type": "\(withVocabulary ? "INSPIRES" : "WEIRD_TYPE")", "properties": {"confidence": 0.91, "source": "llm"}},
                  {"from": "c_two", "to": "c_caf\\u00e9", "type": "IMPLIES", "properties": {}}
                ]
              }
            }
            """
    }

    func testPlatformFilesRestoreWithTheirContent() throws {
        var rng = SystemRandomNumberGenerator()
        let embedding = (0..<1536).map { _ in Double.random(in: -1...1, using: &rng) }
        for withVocabulary in [true, false] {
            try stack.wipeGraph()
            let path = stack.root + "/platform_\(withVocabulary).json"
            try Self.platformFile(withVocabulary: withVocabulary, embedding: embedding).write(toFile: path, atomically: true, encoding: .utf8)
            let job = try restore(path)
            XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
            let warnings = (job["result"] as? [String: Any])?["warnings"] as? [String] ?? []
            XCTAssertTrue(warnings.contains { $0.contains("platform backup") }, "\(warnings)")

            let db = try stack.db()
            defer { db.close() }
            XCTAssertEqual(try db.query("SELECT label FROM kg.concepts WHERE concept_id = 'c_café'").first("label"), "café 知識 🧠")
            XCTAssertEqual(try db.query("SELECT description FROM kg.concepts WHERE concept_id = 'c_café'").first("description"), nil)
            XCTAssertEqual(try db.query("SELECT label FROM kg.concepts WHERE concept_id = 'c_two'").first("label"), "Second \"quoted\" concept")
            let stored = try db.query("SELECT embedding::text AS e FROM kg.concepts WHERE concept_id = 'c_café'").first("e") ?? ""
            let values = stored.dropFirst().dropLast().split(separator: ",").map { Double(String($0))! }
            XCTAssertEqual(values, embedding, "1536 numbers, bit for bit")
            XCTAssertEqual(
                try db.query("SELECT file_path FROM kg.sources WHERE source_id = 's1'").first("file_path"), nil, "\"None\" is no file path")
            XCTAssertEqual(
                try db.query("SELECT full_text FROM kg.sources WHERE source_id = 's1'").first("full_text"), "Line one\nLine two — with a dash")
            XCTAssertEqual(try db.query("SELECT garage_key FROM kg.sources WHERE source_id = 's2'").first("garage_key"), "g/2")
            XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg.evidence WHERE instance_id = 'i1'").first("n"), "2")
            XCTAssertEqual(try db.query("SELECT quote FROM kg.instances WHERE instance_id = 'i1'").first("quote"), "“quoted”")
            if withVocabulary {
                XCTAssertEqual(
                    try db.query("SELECT synonyms::text AS s FROM kg.vocabulary WHERE relationship_type = 'INSPIRES'").first("s"),
                    "{motivates,sparks}")
                XCTAssertEqual(try db.query("SELECT synonyms::text AS s FROM kg.vocabulary WHERE relationship_type = 'OLD_LINK'").first("s"), nil)
                XCTAssertEqual(try db.query("SELECT synonyms::text AS s FROM kg.vocabulary WHERE relationship_type = 'IMPLIES'").first("s"), nil)
                XCTAssertEqual(
                    try db.query("SELECT count(*) AS n FROM kg.vocabulary WHERE NOT is_builtin").first("n"), "2",
                    "replace: the file's custom types, and the built-in ones stay")
                XCTAssertEqual(
                    try db.query("SELECT usage_count FROM kg.vocabulary WHERE relationship_type = 'IMPLIES'").first("usage_count"), "3",
                    "a built-in type the file lists takes the file's values")
            } else {
                // No vocabulary key: the built-in types stay, and the unknown type is added so the graph stays whole.
                XCTAssertEqual(try db.query("SELECT category FROM kg.vocabulary WHERE relationship_type = 'WEIRD_TYPE'").first("category"), "custom")
                XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg.vocabulary WHERE is_builtin").first("n"), "31")
            }
        }
    }
}
