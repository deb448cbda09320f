import Foundation
import KGDatabase
import XCTest

/// Issue 12: every backup restores to exactly what was backed up. Adversarial rows
/// go straight into PostgreSQL; a full backup with the real CLI, `kg admin verify`,
/// then a restore must give back every graph table row for row, every column, floats
/// bit for bit (`GraphSnapshot`).
final class FidelityTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    private func start() throws {
        stack = try TestStack(workers: 1)
        try stack.login()
    }

    private func snapshot() throws -> GraphSnapshot {
        let db = try stack.db()
        defer { db.close() }
        return try GraphSnapshot(db)
    }

    private func backup(_ extra: [String] = []) throws -> String {
        let r = try stack.kg(["admin", "backup", "--type", "full"] + extra)
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func verify(_ path: String) throws {
        let r = try stack.kg(["admin", "verify", path])
        XCTAssertEqual(r.exitCode, 0, "kg admin verify calls the backup invalid: " + r.summary)
    }

    private func restore(_ file: String, _ extra: [String] = []) throws {
        let r = try stack.kg(["admin", "restore", file, "--yes"] + extra)
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
    }

    /// Full backup → verify → replace restore (plain and gzip), and a merge of the same
    /// file into an empty graph: each gives back exactly the graph that was backed up.
    func testAdversarialGraphRoundTripsExactly() throws {
        try start()
        try stack.loadSample(concepts: 6, ontologies: 2, dimensions: 4)
        let db = try stack.db()
        try AdversarialGraph.insertFixed(into: db)
        db.close()
        let before = try snapshot()

        let plain = try backup()
        let file = try BackupFile(path: plain)
        let nanConcept = try XCTUnwrap(file.section("concepts").first { $0["concept_id"] as? String == "c-nan" })
        XCTAssertEqual((nanConcept["embedding"] as? [Any])?.count, 4)
        XCTAssertTrue(
            file.section("instances").contains { $0["instance_id"] as? String == "i-orphan" && $0["concept_id"] is NSNull },
            "an instance that evidences no concept is carried with concept_id null")
        XCTAssertTrue(file.section("ontologies").contains { $0["name"] as? String == "empty ontology" })
        try verify(plain)

        try stack.db().execute("DELETE FROM kg.relationships; DELETE FROM kg.concepts WHERE concept_id = 'c-nan'")
        try restore(plain)
        let afterReplace = try snapshot()
        XCTAssertTrue(afterReplace == before, "replace restore:\n" + before.differences(to: afterReplace))

        let gzip = try backup(["--compress", "gzip"])
        try verify(gzip)
        try restore(gzip)
        let afterGzip = try snapshot()
        XCTAssertTrue(afterGzip == before, "gzip replace restore:\n" + before.differences(to: afterGzip))

        try stack.wipeGraph()
        try stack.db().execute("UPDATE kg.vocabulary SET embedding = NULL, synonyms = NULL WHERE relationship_type = 'IMPLIES'")
        try restore(plain, ["--mode", "merge", "--no-checkpoint"])
        let afterMerge = try snapshot()
        XCTAssertTrue(afterMerge == before, "merge into an empty graph:\n" + before.differences(to: afterMerge))

        // An ontology backup carries its own ontology row and every instance of its sources,
        // those that evidence no concept included.
        let r = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", "onto-α"])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        let ontologyFile = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let ontologyBackup = try BackupFile(path: ontologyFile)
        XCTAssertEqual(ontologyBackup.section("ontologies").compactMap { $0["name"] as? String }, ["onto-α"])
        XCTAssertEqual(ontologyBackup.ids("instances", "instance_id"), ["i1", "i-orphan", "i-orphan-2", "i3"])
        XCTAssertEqual(ontologyBackup.statistics["ontologies"], 1)
        let scoped = """
            SELECT (SELECT string_agg(o::text, '|') FROM kg.ontologies o WHERE o.name = 'onto-α') || ' ' ||
                   (SELECT string_agg(i::text, '|' ORDER BY i.instance_id) FROM kg.instances i JOIN kg.sources s USING (source_id)
                    WHERE s.document = 'onto-α') AS rows
            """
        let expected = try stack.db().query(scoped).first("rows")
        try stack.wipeGraph()
        try restore(ontologyFile, ["--no-checkpoint"])
        XCTAssertEqual(try stack.db().query(scoped).first("rows"), expected)
    }

    /// The platform's exporter (Python json.dumps) writes bare NaN/Infinity literals;
    /// PostgreSQL writes them as strings. Both restore to the same bits, in both paths.
    func testPlatformNonFiniteLiteralsRestoreBitForBit() throws {
        try start()
        let path = stack.root + "/platform.json"
        try """
        {"version": "1.0", "type": "full_backup", "timestamp": "2025-01-01T00:00:00Z", "ontology": null,
         "statistics": {"concepts": 2, "sources": 1, "instances": 1, "relationships": 0},
         "data": {"concepts": [
           {"concept_id": "p1", "label": "P", "search_terms": ["a", null], "embedding": [0.5, NaN, Infinity, -Infinity, -0.0, null, 1e-320]},
           {"concept_id": "p2", "label": "Q", "search_terms": [], "embedding": ["NaN", "Infinity", "-Infinity", -0, 5e-324]}],
          "sources": [{"source_id": "s1", "document": "D", "paragraph": 1, "full_text": "t", "file_path": null}],
          "instances": [{"instance_id": "i1", "quote": "q", "concept_id": "p1", "source_id": "s1"}],
          "relationships": []}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        try verify(path)
        let expected = [
            "p1": "3fe0000000000000,7ff8000000000000,7ff0000000000000,fff0000000000000,8000000000000000,NULL,00000000000007e8",
            "p2": "7ff8000000000000,7ff0000000000000,fff0000000000000,8000000000000000,0000000000000001",
        ]
        let bits = """
            SELECT concept_id, (SELECT string_agg(coalesce(encode(float8send(x), 'hex'), 'NULL'), ',' ORDER BY n)
                FROM unnest(embedding) WITH ORDINALITY u(x, n)) AS bits, search_terms::text AS terms FROM kg.concepts ORDER BY 1
            """
        for mode in ["replace", "merge"] {
            try stack.wipeGraph()
            try restore(path, ["--mode", mode, "--no-checkpoint"])
            let rows = try stack.db().query(bits).records
            XCTAssertEqual(rows.count, 2, mode)
            for row in rows {
                XCTAssertEqual(row["bits"] ?? nil, expected[(row["concept_id"] ?? nil) ?? ""], "\(mode): \(row)")
            }
            XCTAssertEqual(rows.first?["terms"] ?? nil, "{a,NULL}", mode)
        }
    }

    /// A value PostgreSQL's float8in refuses (underflow to zero of a nonzero literal,
    /// overflow) or a string that is not a number: `kg admin verify` calls the file
    /// invalid, naming the record and the field, and the gateway refuses the restore.
    func testOutOfRangeAndNonNumbersAreInvalidNamingRecordAndField() throws {
        try start()
        let cases: [(String, String)] = [
            (#"[0.1, 1e-400]"#, "data.concepts[0] (u1): embedding[1] holds 1e-400, out of range for double precision"),
            (#"[1e400]"#, "data.concepts[0] (u1): embedding[0] holds 1e400, out of range"),
            (#"["nan"]"#, "data.concepts[0] (u1): embedding[0] must be an array of numbers"),
            (#"[true]"#, "data.concepts[0] (u1): embedding[0] must be an array of numbers"),
        ]
        for (embedding, message) in cases {
            let path = stack.root + "/bad.json"
            try """
            {"version": "1.0", "type": "full_backup", "timestamp": "2025-01-01T00:00:00Z",
             "statistics": {"concepts": 1, "sources": 0, "instances": 0, "relationships": 0},
             "data": {"concepts": [{"concept_id": "u1", "label": "U", "embedding": \(embedding)}],
                      "sources": [], "instances": [], "relationships": []}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
            let r = try stack.kg(["admin", "verify", path])
            XCTAssertEqual(r.exitCode, 1, "\(embedding): \(r.summary)")
            XCTAssertTrue((r.stdout + r.stderr).contains(message), "\(embedding): expected \(message)\n\(r.summary)")
            let upload = try stack.uploadRestore(path)
            XCTAssertEqual(upload.status, 400, "\(embedding): \(upload.json)")
        }
        // search_terms with a non-string element.
        let path = stack.root + "/terms.json"
        try """
        {"version": "1.0", "type": "full_backup", "timestamp": "2025-01-01T00:00:00Z",
         "statistics": {"concepts": 1, "sources": 0, "instances": 0, "relationships": 0},
         "data": {"concepts": [{"concept_id": "u1", "label": "U", "search_terms": ["a", 3]}],
                  "sources": [], "instances": [], "relationships": []}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try stack.kg(["admin", "verify", path])
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertTrue((r.stdout + r.stderr).contains("data.concepts[0] (u1): search_terms[1] must be a string or null"), r.summary)
    }

    /// A platform file (no producer) cannot say "an instance with no concept": null stays an error there.
    func testConceptlessInstancesAreKgFilesOnly() throws {
        try start()
        let path = stack.root + "/platform-null.json"
        try """
        {"version": "1.0", "type": "full_backup", "timestamp": "2025-01-01T00:00:00Z",
         "statistics": {"concepts": 0, "sources": 1, "instances": 1, "relationships": 0},
         "data": {"concepts": [], "sources": [{"source_id": "s1", "document": "D", "paragraph": 1, "full_text": "t"}],
                  "instances": [{"instance_id": "i1", "quote": "q", "concept_id": null, "source_id": "s1"}],
                  "relationships": []}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        let r = try stack.kg(["admin", "verify", path])
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertTrue((r.stdout + r.stderr).contains("instance i1 (data.instances[0]) has no concept_id"), r.summary)
    }

    /// Random adversarial graphs (seeded; `KG_PROPERTY_SEED` repeats one, `KG_PROPERTY_ROUNDS`
    /// runs more): full backup → verify → restore is the identity; rounds alternate replace,
    /// gzip replace, and a merge into an empty graph. The first round also holds one text
    /// beyond 64 MiB (strings from 0 bytes to beyond 64 MiB).
    func testPropertyRandomAdversarialGraphsRoundTrip() throws {
        let env = ProcessInfo.processInfo.environment
        let rounds = Int(env["KG_PROPERTY_ROUNDS"] ?? "") ?? 3
        let seed = UInt64(env["KG_PROPERTY_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64(Int64.max))
        print("FidelityTests property seed: \(seed) (KG_PROPERTY_SEED=\(seed) repeats it), rounds: \(rounds)")
        try start()
        for round in 0..<rounds {
            let roundSeed = seed &+ UInt64(round)
            try stack.wipeGraph()
            let db = try stack.db()
            try AdversarialGraph.insertRandom(into: db, seed: roundSeed)
            if round % 2 == 1 { try AdversarialGraph.insertRandom(into: db, seed: roundSeed &* 31) }
            if round == 0 {
                // One value beyond 64 MiB per run (issue 12 item 2), in a column chosen by the seed.
                print("FidelityTests property seed \(roundSeed): a long text in \(try AdversarialGraph.insertLongText(into: db, seed: roundSeed))")
            }
            db.close()
            let before = try snapshot()
            let kind = ["replace", "gzip replace", "merge into an empty graph"][round % 3]
            let file = try backup(round % 3 == 1 ? ["--compress", "gzip"] : [])
            try verify(file)
            if round % 3 == 2 {
                try stack.wipeGraph()
                try restore(file, ["--mode", "merge", "--no-checkpoint"])
            } else {
                try stack.db().execute("DELETE FROM kg.relationships; DELETE FROM kg.ontologies WHERE name NOT IN (SELECT document FROM kg.sources)")
                try restore(file)
            }
            let after = try snapshot()
            XCTAssertTrue(after == before, "seed \(roundSeed) (\(kind)):\n" + before.differences(to: after))
            if after != before { break }
        }
    }

    /// U+0000 cannot reach libpq, which would cut the text short: a login name
    /// "admin\0x" with admin's password must not log in as admin.
    func testNULInRequestValuesIsRefusedNamingTheField() throws {
        stack = try TestStack(workers: 0)
        let login = try stack.call(
            "POST", "/auth/token", token: nil,
            json: #"{"username": "admin\u0000x", "password": "\#(stack.adminPassword)"}"#)
        XCTAssertEqual(login.status, 400, String(decoding: login.body, as: UTF8.self))
        let body = TestStack.object(login)
        XCTAssertTrue((body["error"] as? String ?? "").contains("username"), "\(body)")
        XCTAssertNil(body["token"])

        let token = try stack.token()
        let audit = try stack.call("GET", "/admin/audit?user=ad%00min", token: token)
        XCTAssertEqual(audit.status, 400, String(decoding: audit.body, as: UTF8.self))
        XCTAssertTrue((TestStack.object(audit)["error"] as? String ?? "").contains("user"))

        // The database layer refuses such a bound value itself, naming the parameter, instead of
        // letting libpq cut it short (any caller: worker, CLI tools, gateway).
        let db = try stack.db()
        defer { db.close() }
        XCTAssertThrowsError(try db.query("SELECT $1::text, $2::text AS t", ["ok", "admin\u{0}x"])) { error in
            XCTAssertEqual((error as? PGError)?.message, "parameter $2 holds the character U+0000, which PostgreSQL text cannot hold")
        }
        XCTAssertEqual(try db.query("SELECT $1::text AS t", ["still usable"]).first("t"), "still usable")

        // Every JSON-body route, and path parameters.
        let cases: [(String, String, String?, String)] = [
            ("POST", "/admin/ontology/delete", #"{"name": "a\u0000b"}"#, "name"),
            ("POST", "/admin/stitch", #"{"references": [{"concept_id": "c\u0000"}], "dry_run": true}"#, "references[0].concept_id"),
            ("POST", "/admin/backup", #"{"backup_type": "ontology", "ontology_name": "x\u0000"}"#, "ontology_name"),
            ("GET", "/jobs/abc%00def", nil, "path"),
        ]
        for (method, path, body, field) in cases {
            let r = try stack.call(method, path, token: token, json: body)
            XCTAssertEqual(r.status, 400, "\(path): " + String(decoding: r.body, as: UTF8.self))
            XCTAssertEqual(TestStack.object(r)["detail"] as? String, field, "\(path): " + String(decoding: r.body, as: UTF8.self))
        }
    }
}
