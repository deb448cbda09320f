import Foundation
import KGClient
import KGDatabase
import KGFormat
import KGTestSupport
import XCTest

/// Backups through the whole system: real PostgreSQL, RabbitMQ, gateway and
/// worker processes, and the real CLI.
final class BackupTests: XCTestCase {
    var stack: TestStack!

    override func setUpWithError() throws {
        stack = try TestStack()
    }

    override func tearDown() {
        stack?.stop()
    }

    /// Runs `kg admin backup` and returns the saved path.
    func backup(_ extra: [String] = []) throws -> String {
        let r = try stack.kg(["admin", "backup"] + extra)
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        let path = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "no file at \(path)")
        return path
    }

    /// Counts the rows that differ between a table query and the file's records
    /// parsed by PostgreSQL's own JSON parser, in both directions.
    func differences(_ db: PGConnection, table: String, fromFile: String, json: String) throws -> Int {
        let r = try db.query(
            """
            WITH file AS (\(fromFile)), live AS (\(table))
            SELECT (SELECT count(*) FROM (SELECT * FROM live EXCEPT ALL SELECT * FROM file) a)
                 + (SELECT count(*) FROM (SELECT * FROM file EXCEPT ALL SELECT * FROM live) b) AS n
            """, [json])
        return Int(r.first("n") ?? "-1") ?? -1
    }

    func testFullBackupHoldsEveryRowExactly() throws {
        try stack.loadSample(concepts: 60, ontologies: 3, dimensions: 24)
        try stack.login()
        let path = try backup(["--type", "full"])
        XCTAssertTrue(path.hasPrefix(stack.backupDir + "/full_backup_"), path)
        XCTAssertTrue(path.hasSuffix(".json"))
        let file = try BackupFile(path: path)
        XCTAssertEqual(file.object["version"] as? String, "1.0")
        XCTAssertEqual(file.object["type"] as? String, "full_backup")
        XCTAssertEqual(file.object["schema_version"] as? Int, SchemaConverters.latestVersion)
        XCTAssertEqual((file.object["producer"] as? [String: Any])?["name"] as? String, "kg")
        XCTAssertTrue((file.object["timestamp"] as? String)?.hasSuffix("Z") == true)
        // Metadata comes before data, so a streaming reader knows the counts first.
        let text = String(decoding: file.raw.prefix(600), as: UTF8.self)
        XCTAssertLessThan(text.range(of: "\"statistics\"")!.lowerBound, text.range(of: "\"data\"")!.lowerBound)

        let db = try stack.db()
        defer { db.close() }
        for (section, table) in [
            ("concepts", "kg.concepts"), ("sources", "kg.sources"), ("relationships", "kg.relationships"),
            ("vocabulary", "kg.vocabulary"),
        ] {
            let n = Int(try db.query("SELECT count(*) AS n FROM \(table)").first("n")!)!
            XCTAssertEqual(file.section(section).count, n, section)
            XCTAssertEqual(file.statistics[section], n, "statistics.\(section)")
        }
        let links = Int(try db.query("SELECT count(*) AS n FROM kg.evidence").first("n")!)!
        XCTAssertEqual(file.section("instances").count, links)
        XCTAssertEqual(file.statistics["instances"], links)

        // Column by column, with PostgreSQL parsing the file's JSON: embeddings compare as float8 (bit for bit).
        XCTAssertEqual(
            try differences(
                db,
                table: "SELECT concept_id, label, description, search_terms, embedding FROM kg.concepts",
                fromFile: """
                    SELECT r->>'concept_id', r->>'label', r->>'description',
                           ARRAY(SELECT jsonb_array_elements_text(r->'search_terms')),
                           ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(r->'embedding') x)
                    FROM jsonb_array_elements($1::jsonb) r
                    """, json: try file.sectionJSON("concepts")), 0)
        XCTAssertEqual(
            try differences(
                db,
                table: "SELECT source_id, document, paragraph, full_text, file_path, content_type, garage_key, storage_key FROM kg.sources",
                fromFile: """
                    SELECT r->>'source_id', r->>'document', (r->>'paragraph')::int, r->>'full_text', r->>'file_path',
                           r->>'content_type', r->>'garage_key', r->>'storage_key'
                    FROM jsonb_array_elements($1::jsonb) r
                    """, json: try file.sectionJSON("sources")), 0)
        XCTAssertEqual(
            try differences(
                db,
                table: "SELECT i.instance_id, i.quote, e.concept_id, i.source_id FROM kg.instances i JOIN kg.evidence e USING (instance_id)",
                fromFile: """
                    SELECT r->>'instance_id', r->>'quote', r->>'concept_id', r->>'source_id' FROM jsonb_array_elements($1::jsonb) r
                    """, json: try file.sectionJSON("instances")), 0)
        XCTAssertEqual(
            try differences(
                db,
                table: "SELECT from_concept_id, to_concept_id, relationship_type, properties FROM kg.relationships",
                fromFile: """
                    SELECT r->>'from', r->>'to', r->>'type', r->'properties' FROM jsonb_array_elements($1::jsonb) r
                    """, json: try file.sectionJSON("relationships")), 0)
        XCTAssertEqual(
            try differences(
                db,
                table: """
                    SELECT relationship_type, description, category, added_by, added_at, usage_count, is_active, is_builtin,
                           synonyms::text[], deprecation_reason, embedding_model, embedding_generated_at, embedding, direction_semantics
                    FROM kg.vocabulary
                    """,
                fromFile: """
                    SELECT r->>'relationship_type', r->>'description', r->>'category', r->>'added_by', (r->>'added_at')::timestamptz,
                           (r->>'usage_count')::int, (r->>'is_active')::bool, (r->>'is_builtin')::bool,
                           CASE WHEN jsonb_typeof(r->'synonyms') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(r->'synonyms')) END,
                           r->>'deprecation_reason', r->>'embedding_model', (r->>'embedding_generated_at')::timestamptz,
                           CASE WHEN jsonb_typeof(r->'embedding') = 'array' THEN ARRAY(SELECT x::float8 FROM jsonb_array_elements_text(r->'embedding') x) END,
                           r->>'direction_semantics'
                    FROM jsonb_array_elements($1::jsonb) r
                    """, json: try file.sectionJSON("vocabulary")), 0)

        // Non-ASCII text and duplicate edges survived.
        XCTAssertTrue(String(decoding: file.raw, as: UTF8.self).contains("知識"))
        let pairs = file.section("relationships").map { "\($0["from"]!)|\($0["to"]!)|\($0["type"]!)" }
        XCTAssertGreaterThan(pairs.count, Set(pairs).count, "the sample has duplicate edges; the backup must keep both")

        // The job is completed, and temp storage is empty again.
        let jobs = try stack.kg(["job", "list", "--json"])
        XCTAssertTrue(jobs.stdout.contains("\"completed\""), jobs.summary)
        XCTAssertEqual(stack.tempFiles(), [])
    }

    func testOntologyBackupHoldsExactlyItsScope() throws {
        try stack.loadSample(concepts: 60, ontologies: 3, dimensions: 8)
        try stack.login()
        let ontology = "systems/thinking"  // needs a safe file name
        let path = try backup(["--type", "ontology", "--ontology", ontology])
        XCTAssertTrue(URL(fileURLWithPath: path).lastPathComponent.hasPrefix("systems_thinking_backup_"), path)
        let file = try BackupFile(path: path)
        XCTAssertEqual(file.object["type"] as? String, "ontology_backup")
        XCTAssertEqual(file.object["ontology"] as? String, ontology)

        let db = try stack.db()
        defer { db.close() }
        func ids(_ sql: String) throws -> Set<String> { Set(try db.query(sql, [ontology]).rows.compactMap { $0[0] }) }
        let sources = try ids("SELECT source_id FROM kg.sources WHERE document = $1")
        let concepts = try ids(
            """
            SELECT DISTINCT e.concept_id FROM kg.evidence e JOIN kg.instances i USING (instance_id)
            JOIN kg.sources s USING (source_id) WHERE s.document = $1
            """)
        let instanceRows = try db.query(
            """
            SELECT i.instance_id || '|' || e.concept_id FROM kg.instances i JOIN kg.evidence e USING (instance_id)
            JOIN kg.sources s USING (source_id) WHERE s.document = $1
            """, [ontology]
        ).rows.compactMap { $0[0] }
        let edges = try db.query(
            """
            SELECT count(*) AS n FROM kg.relationships WHERE from_concept_id IN (
              SELECT e.concept_id FROM kg.evidence e JOIN kg.instances i USING (instance_id)
              JOIN kg.sources s USING (source_id) WHERE s.document = $1)
            """, [ontology]
        ).first("n")
        XCTAssertFalse(sources.isEmpty)
        XCTAssertEqual(file.ids("sources", "source_id"), sources)
        XCTAssertEqual(file.ids("concepts", "concept_id"), concepts)
        XCTAssertEqual(file.section("instances").map { "\($0["instance_id"]!)|\($0["concept_id"]!)" }.sorted(), instanceRows.sorted())
        XCTAssertEqual(file.section("relationships").count, Int(edges!))
        XCTAssertTrue(file.section("relationships").allSatisfy { concepts.contains($0["from"] as! String) })
        // Edges go out to concepts of other ontologies: those are external dependencies.
        let targets = Set(file.section("relationships").map { $0["to"] as! String })
        XCTAssertFalse(targets.subtracting(concepts).isEmpty, "the sample has cross-ontology edges")
        XCTAssertEqual(file.section("vocabulary").count, Int(try db.query("SELECT count(*) AS n FROM kg.vocabulary").first("n")!)!)

        let verify = try stack.kg(["admin", "verify", path, "--json"])
        XCTAssertEqual(verify.exitCode, 0, verify.summary)
        let report = try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(report["valid"] as? Bool, true)
        XCTAssertEqual(report["external_deps"] as? Int, targets.subtracting(concepts).count)
    }

    func testGzipBackupIsCompressedAndValid() throws {
        try stack.loadSample(concepts: 30, dimensions: 8)
        try stack.login()
        let path = try backup(["--type", "full", "--compress", "gzip"])
        XCTAssertTrue(path.hasSuffix(".json.gz"), path)
        let head = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)).readData(ofLength: 2)
        XCTAssertEqual(Array(head), [0x1F, 0x8B])
        let file = try BackupFile(path: path)
        XCTAssertEqual(file.section("concepts").count, 30)
        let verify = try stack.kg(["admin", "verify", URL(fileURLWithPath: path).lastPathComponent])
        XCTAssertEqual(verify.exitCode, 0, verify.summary)
    }

    func testOutputPathAndListBackups() throws {
        try stack.loadSample(concepts: 10, dimensions: 4)
        try stack.login()
        let target = stack.root + "/elsewhere/mine.json"
        try FileManager.default.createDirectory(atPath: stack.root + "/elsewhere", withIntermediateDirectories: true)
        let saved = try backup(["--type", "full", "--output", target])
        XCTAssertEqual(saved, target)
        _ = try backup(["--type", "full"])
        Thread.sleep(forTimeInterval: 1.1)
        let second = try backup(["--type", "full", "--compress", "gzip"])
        let list = try stack.kg(["admin", "list-backups", "--json"])
        XCTAssertEqual(list.exitCode, 0, list.summary)
        let rows = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as! [[String: Any]]
        XCTAssertEqual(rows.count, 2, "only files in backup_dir are listed")
        XCTAssertEqual(rows.first?["path"] as? String, second, "newest first")
        XCTAssertGreaterThan(rows.first?["size"] as? Int ?? 0, 0)
    }

    func testKilledWorkerFailsTheBackupAndLeavesNothing() throws {
        stack.stop()
        // Slow the export down so the worker can be killed in the middle of it.
        stack = try TestStack(environment: ["KG_TEST_RECORD_DELAY_MS": "20"])
        try stack.loadSample(concepts: 80, dimensions: 8)
        try stack.login()
        let cli = try stack.kgInBackground(["admin", "backup", "--type", "full"], name: "cli-backup")
        let db = try stack.db()
        defer { db.close() }
        var holder: String?
        let deadline = Date().addingTimeInterval(30)
        while holder == nil && Date() < deadline {
            let r = try db.query("SELECT worker_id, (progress->>'percent')::float AS p FROM kg_api.jobs WHERE status = 'running'")
            if let id = r.first("worker_id"), let p = Double(r.first("p") ?? ""), p > 5 { holder = id }
            usleep(50_000)
        }
        let worker = try XCTUnwrap(holder.flatMap { stack.workers[$0] }, "no running backup seen\n" + stack.logs)
        worker.killHard()
        cli.process.waitUntilExit()
        XCTAssertEqual(cli.process.terminationStatus, 1, cli.log)
        XCTAssertTrue(cli.log.contains("backup failed"), cli.log)
        XCTAssertTrue(cli.log.contains("Nothing was saved"), cli.log)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? []
        XCTAssertEqual(left, [], "no file, partial or complete, in backup_dir")
        // The job ends failed (the other worker or the gateway notices), and temp storage is clean.
        var status: String?
        for _ in 0..<100 {
            status = try db.query("SELECT status FROM kg_api.jobs").first("status")
            if status == "failed" && stack.tempFiles().isEmpty { break }
            usleep(100_000)
        }
        XCTAssertEqual(status, "failed", stack.logs)
        XCTAssertEqual(stack.tempFiles(), [])
        let error = try db.query("SELECT error FROM kg_api.jobs").first("error") ?? ""
        XCTAssertTrue(error.contains("take a new backup") || error.contains("stopped"), error)
    }

    func testTwoUsersBackUpAtOnce() throws {
        try stack.loadSample(concepts: 50, dimensions: 64)
        try stack.addUser("second", role: "admin", password: "second-pw")
        let homeA = stack.root + "/cli-a"
        let homeB = stack.root + "/cli-b"
        try stack.login(home: homeA)
        try stack.login("second", password: "second-pw", home: homeB)
        let a = try stack.kgInBackground(["admin", "backup", "--type", "full"], home: homeA, name: "cli-a")
        let b = try stack.kgInBackground(["admin", "backup", "--type", "ontology", "--ontology", "Philosophy of Mind"], home: homeB, name: "cli-b")
        a.process.waitUntilExit()
        b.process.waitUntilExit()
        XCTAssertEqual(a.process.terminationStatus, 0, a.log + stack.logs)
        XCTAssertEqual(b.process.terminationStatus, 0, b.log + stack.logs)
        for home in [homeA, homeB] {
            let all = try FileManager.default.contentsOfDirectory(atPath: home + "/data/kg/backups")
            let files = all.filter { !$0.hasSuffix(".sha256") }
            XCTAssertEqual(files.count, 1, "\(home): \(all)")
            XCTAssertTrue(all.contains(files[0] + ".sha256"), "\(home): \(all)")
            let verify = try stack.kg(["admin", "verify", files[0]], home: home)
            XCTAssertEqual(verify.exitCode, 0, verify.summary)
        }
        let jobs = try stack.db().query("SELECT username, status FROM kg_api.jobs ORDER BY username").rows
        XCTAssertEqual(jobs.map { "\($0[0]!):\($0[1]!)" }, ["admin:completed", "second:completed"])
    }

    func testUnauthenticatedAndNonAdminAreRefused() throws {
        try stack.addUser("reader", role: "reader", password: "reader-pw")
        let body = try JSONSerialization.data(withJSONObject: ["backup_type": "full"])
        let anonymous = try HTTPClient(baseURL: stack.apiURL, token: nil).request(method: "POST", path: "/admin/backup", json: body)
        XCTAssertEqual(anonymous.status, 401)
        XCTAssertNotNil(anonymous.errorMessage)
        let forged = try HTTPClient(baseURL: stack.apiURL, token: "kg_forged").request(method: "POST", path: "/admin/backup", json: body)
        XCTAssertEqual(forged.status, 401)
        let reader = try stack.token("reader", password: "reader-pw")
        let refused = try HTTPClient(baseURL: stack.apiURL, token: reader).request(method: "POST", path: "/admin/backup", json: body)
        XCTAssertEqual(refused.status, 403)
        XCTAssertTrue(String(decoding: refused.body, as: UTF8.self).contains("admin role"))
        let count = try stack.db().query("SELECT count(*) AS n FROM kg_api.jobs").first("n")
        XCTAssertEqual(count, "0", "refused requests create no job")

        // The CLI says so with exit code 4, and a wrong password too.
        let notLoggedIn = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(notLoggedIn.exitCode, 4, notLoggedIn.summary)
        XCTAssertTrue(notLoggedIn.stderr.contains("kg login"), notLoggedIn.stderr)
        let wrong = try stack.kg(["login", "--username", "admin", "--password-stdin"], input: "wrong\n")
        XCTAssertEqual(wrong.exitCode, 4, wrong.summary)
        try stack.login("reader", password: "reader-pw")
        let asReader = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(asReader.exitCode, 4, asReader.summary)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? [], [])
    }

    func testBadRequestsGetClearErrors() throws {
        try stack.loadSample(concepts: 10, dimensions: 4)
        try stack.login()
        let missing = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", "No Such Ontology"])
        XCTAssertEqual(missing.exitCode, 1, missing.summary)
        XCTAssertTrue(missing.stderr.contains("No Such Ontology"), missing.stderr)
        let usage = try stack.kg(["admin", "backup", "--type", "ontology"])
        XCTAssertEqual(usage.exitCode, 2, usage.summary)
        XCTAssertTrue(usage.stderr.contains("--ontology"), usage.stderr)
        let token = try stack.token()
        let client = HTTPClient(baseURL: stack.apiURL, token: token)
        let badType = try client.request(method: "POST", path: "/admin/backup", json: Data(#"{"backup_type":"partial"}"#.utf8))
        XCTAssertEqual(badType.status, 400)
        XCTAssertTrue(badType.errorMessage?.contains("partial") == true)
        let notJSON = try client.request(method: "POST", path: "/admin/backup", json: Data("nope".utf8))
        XCTAssertEqual(notJSON.status, 400)
        let unreachable = try stack.kg([
            "admin", "backup", "--type", "full", "--token", "kg_any",
            "--server", "http://127.0.0.1:\(freePort())",
        ])
        XCTAssertEqual(unreachable.exitCode, 3, unreachable.summary)
        XCTAssertTrue(unreachable.stderr.contains("cannot reach"), unreachable.stderr)
    }

    func testJobStatusAndEvents() throws {
        try stack.loadSample(concepts: 20, dimensions: 4)
        try stack.login()
        _ = try backup(["--type", "full"])
        let list = try stack.kg(["job", "list", "--json"])
        let jobs = (try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as! [String: Any])["jobs"] as! [[String: Any]]
        let id = try XCTUnwrap(jobs.first?["job_id"] as? String)
        let status = try stack.kg(["job", "status", id, "--json"])
        let job = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(job["status"] as? String, "completed")
        XCTAssertEqual(job["job_type"] as? String, "backup")
        XCTAssertEqual((job["progress"] as? [String: Any])?["percent"] as? Double, 100)
        XCTAssertEqual((job["result"] as? [String: Any])?["statistics"] as? [String: Int] != nil, true)
        XCTAssertNotNil(job["completed_at"] as? String)
        let human = try stack.kg(["job", "status", id])
        XCTAssertTrue(human.stdout.contains("completed"), human.summary)
        // SSE of a finished job: one terminal event.
        var events: [ServerSentEvent] = []
        try HTTPClient(baseURL: stack.apiURL, token: try stack.token()).streamEvents(path: "/jobs/\(id)/events") { event in
            events.append(event)
            return true
        }
        XCTAssertEqual(events.map(\.event), ["completed"])
        let watch = try stack.kg(["job", "watch", id])
        XCTAssertEqual(watch.exitCode, 0, watch.summary)
        let unknown = try stack.kg(["job", "status", UUID().uuidString])
        XCTAssertEqual(unknown.exitCode, 1)
        XCTAssertTrue(unknown.stderr.contains("no such job"), unknown.stderr)
    }
}
