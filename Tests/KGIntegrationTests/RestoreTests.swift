import Foundation
import KGBroker
import KGClient
import KGDatabase
import KGFormat
import XCTest

/// Restores through the whole system: uploads through the gateway, jobs through
/// RabbitMQ, a worker applying the file to real PostgreSQL in one transaction.
final class RestoreTests: XCTestCase {
    var stack: TestStack!

    override func setUpWithError() throws {
        stack = try TestStack(environment: environment)
    }

    override func tearDown() {
        stack?.stop()
    }

    /// Per-test service settings (subclasses or tests restart the stack with others).
    var environment: [String: String] { [:] }

    func restart(_ environment: [String: String]) throws {
        stack.stop()
        stack = try TestStack(environment: environment)
    }

    func backup(_ extra: [String] = ["--type", "full"]) throws -> String {
        try stack.login()
        let r = try stack.kg(["admin", "backup"] + extra)
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func restore(_ path: String, fields: [String: String] = [:]) throws -> [String: Any] {
        let (status, json) = try stack.uploadRestore(path, fields: fields)
        XCTAssertEqual(status, 202, "\(json)\n\(stack.logs)")
        let id = try XCTUnwrap(json["job_id"] as? String)
        return try stack.waitForJob(id)
    }

    // MARK: Fidelity

    func testFullRoundTripIsLossless() throws {
        try stack.loadSample(concepts: 50, dimensions: 32)
        for compression in ["none", "gzip", "zstd"] {
            let first = try backup(["--type", "full", "--compress", compression])
            try stack.wipeGraph()
            let job = try restore(first)
            XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
            let result = job["result"] as? [String: Any]
            XCTAssertEqual((result?["restored"] as? [String: Int])?["concepts"], 50)
            let second = try backup(["--type", "full", "--compress", compression])
            let a = try BackupFile(path: first), b = try BackupFile(path: second)
            XCTAssertTrue(NSDictionary(dictionary: a.data).isEqual(to: b.data), "data differs after a round trip (\(compression))")
            XCTAssertEqual(a.statistics, b.statistics)
            // Embeddings bit for bit: the same number text both times (PostgreSQL prints float8 shortest-exact).
            let (bytesA, bytesB) = (a.rawWithoutTimestamp, b.rawWithoutTimestamp)
            let differ =
                zip(bytesA, bytesB).enumerated().first { $0.element.0 != $0.element.1 }?.offset
                ?? (bytesA.count == bytesB.count ? nil : min(bytesA.count, bytesB.count))
            XCTAssertNil(
                differ,
                "same bytes apart from the timestamp (\(compression)); first difference at byte \(differ ?? -1): "
                    + "\(String(decoding: bytesA.dropFirst(max(0, (differ ?? 0) - 40)).prefix(100), as: UTF8.self)) vs "
                    + "\(String(decoding: bytesB.dropFirst(max(0, (differ ?? 0) - 40)).prefix(100), as: UTF8.self))")
            XCTAssertEqual(stack.tempFiles(), [])
        }
    }

    func testOntologyRoundTripPrunesOnlyExternalEdges() throws {
        let ontology = "Biología celular"
        for compression in ["none", "gzip"] {
            try stack.loadSample(concepts: 60, ontologies: 3, dimensions: 8)
            try ontologyRoundTrip(ontology, compression: compression)
        }
    }

    func ontologyRoundTrip(_ ontology: String, compression: String) throws {
        let first = try backup(["--type", "ontology", "--ontology", ontology, "--compress", compression])
        let original = try BackupFile(path: first)
        let inside = original.ids("concepts", "concept_id")
        try stack.wipeGraph()
        let job = try restore(first)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        let result = try XCTUnwrap(job["result"] as? [String: Any])
        XCTAssertEqual(result["mode"] as? String, "merge", "an ontology backup merges by default")
        let external = original.section("relationships").filter { !inside.contains($0["to"] as! String) }
        XCTAssertGreaterThan(external.count, 0)
        XCTAssertEqual((result["pruned"] as? [String: Int])?["relationships"], external.count)
        let second = try BackupFile(path: try backup(["--type", "ontology", "--ontology", ontology, "--compress", compression]))
        XCTAssertEqual(second.ids("concepts", "concept_id"), inside)
        XCTAssertTrue(NSArray(array: second.section("sources")).isEqual(to: original.section("sources")))
        XCTAssertTrue(NSArray(array: second.section("instances")).isEqual(to: original.section("instances")))
        let kept = original.section("relationships").filter { inside.contains($0["to"] as! String) }
        XCTAssertTrue(NSArray(array: second.section("relationships")).isEqual(to: kept))
    }

    func testMergeUpdatesByIdAndKeepsTheRest() throws {
        try stack.loadSample(concepts: 30, ontologies: 2, dimensions: 4)
        let file = try backup(["--type", "ontology", "--ontology", "Philosophy of Mind"])
        let concept = try XCTUnwrap(try BackupFile(path: file).section("concepts").first?["concept_id"] as? String)
        let db = try stack.db()
        defer { db.close() }
        try db.query("UPDATE kg.concepts SET label = 'changed' WHERE concept_id = $1", [concept])
        try db.execute("INSERT INTO kg.concepts (concept_id, label) VALUES ('extra_concept', 'not in any backup')")
        let job = try restore(file, fields: ["mode": "merge"])
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)")
        XCTAssertNotEqual(try db.query("SELECT label FROM kg.concepts WHERE concept_id = $1", [concept]).first("label"), "changed")
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg.concepts WHERE concept_id = 'extra_concept'").first("n"), "1")
        let updated = (job["result"] as? [String: Any])?["updated"] as? [String: Int]
        XCTAssertGreaterThan(updated?["concepts"] ?? 0, 0)
        // Merging the same file again adds no duplicate edges.
        let before = try stack.graphChecksum()
        _ = try restore(file, fields: ["mode": "merge"])
        XCTAssertEqual(try stack.graphChecksum(), before, "a second merge of the same file changes nothing")
    }

    func testDryRunChangesNothingAndReports() throws {
        try stack.loadSample(concepts: 20, dimensions: 4)
        let file = try backup()
        let db = try stack.db()
        try db.execute("DELETE FROM kg.relationships WHERE relationship_id % 2 = 0")
        try db.execute("INSERT INTO kg.concepts (concept_id, label) VALUES ('only_live', 'not in the backup')")
        db.close()
        let before = try stack.graphChecksum()
        let job = try restore(file, fields: ["dry_run": "true"])
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)")
        let result = try XCTUnwrap(job["result"] as? [String: Any])
        XCTAssertEqual(result["dry_run"] as? Bool, true)
        XCTAssertEqual((result["restored"] as? [String: Int])?["relationships"], 60)
        XCTAssertEqual((result["restored"] as? [String: Int])?["concepts"], 20)
        let removed = result["removed"] as? [String: Int]
        XCTAssertEqual(removed?["concepts"], 1, "the concept only the live graph has")
        XCTAssertEqual(removed?["relationships"], 0, "every live edge is in the backup")
        XCTAssertEqual(try stack.graphChecksum(), before, "a dry run changes nothing")
        XCTAssertEqual(stack.tempFiles(), [])
    }

    // MARK: Bad input, at the gateway and at the worker

    /// Files that break integrity rules; each must be refused with the right category and change nothing.
    static let brokenFiles: [(name: String, content: String, category: String)] = [
        ("not-json", "this is not a backup", "format"),
        (
            "truncated",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[{"concept_id":"a""#,
            "format"
        ),
        ("missing-keys", #"{"version":"1.0","data":{"concepts":[],"sources":[],"instances":[],"relationships":[]}}"#, "format"),
        (
            "bad-type",
            #"{"version":"1.0","type":"weird","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[],"sources":[],"instances":[],"relationships":[]}}"#,
            "format"
        ),
        (
            "section-not-array",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":{},"sources":[],"instances":[],"relationships":[]}}"#,
            "format"
        ),
        (
            "dangling-source",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[{"concept_id":"c1","label":"C","search_terms":[],"embedding":[]}],"sources":[],"instances":[{"instance_id":"i1","quote":"q","concept_id":"c1","source_id":"s404"}],"relationships":[]}}"#,
            "references"
        ),
        (
            "dangling-concept-full",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[{"concept_id":"c1","label":"C","search_terms":[],"embedding":[]}],"sources":[],"instances":[],"relationships":[{"from":"c1","to":"c404","type":"IMPLIES","properties":{}}]}}"#,
            "references"
        ),
        (
            "version-not-string",
            #"{"version":1,"type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[],"sources":[],"instances":[],"relationships":[]}}"#,
            "format"
        ),
        ("data-not-object", #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":[]}"#, "format"),
        (
            "instance-without-concept",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[],"sources":[{"source_id":"s1","document":"D","paragraph":1,"full_text":"t","file_path":null}],"instances":[{"instance_id":"i1","quote":"q","source_id":"s1"}],"relationships":[]}}"#,
            "references"
        ),
        (
            "instance-without-source",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[{"concept_id":"c1","label":"C","search_terms":[],"embedding":[]}],"sources":[],"instances":[{"instance_id":"i1","quote":"q","concept_id":"c1"}],"relationships":[]}}"#,
            "references"
        ),
        (
            "duplicate-vocabulary",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"vocabulary":[{"relationship_type":"X"},{"relationship_type":"X"}],"concepts":[],"sources":[],"instances":[],"relationships":[]}}"#,
            "vocabulary"
        ),
        (
            // An exponent of 24 digits once overflowed the checker's range shortcut: the
            // gateway (verify, restore), the CLI and the worker crashed on it.
            "exponent-of-24-digits",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[{"concept_id":"c1","label":"C","search_terms":[],"embedding":[0.5,1e999999999999999999999999]}],"sources":[],"instances":[],"relationships":[]}}"#,
            "format"
        ),
        (
            "edge-without-to",
            #"{"version":"1.0","type":"full_backup","timestamp":"2025-01-01T00:00:00Z","statistics":{},"data":{"concepts":[{"concept_id":"c1","label":"C","search_terms":[],"embedding":[]}],"sources":[],"instances":[],"relationships":[{"from":"c1","type":"IMPLIES","properties":{}}]}}"#,
            "references"
        ),
    ]

    func testInvalidUploadsAreRefusedAndChangeNothing() throws {
        try stack.loadSample(concepts: 10, dimensions: 4)
        let before = try stack.graphChecksum()
        let token = try stack.token()
        for broken in Self.brokenFiles {
            let path = stack.root + "/\(broken.name).json"
            try broken.content.write(toFile: path, atomically: true, encoding: .utf8)
            // Gateway, restore: 400 with the findings.
            let (status, json) = try stack.uploadRestore(path, token: token)
            XCTAssertEqual(status, 400, "\(broken.name): \(json)")
            let detail = json["detail"] as? [String: Any]
            XCTAssertEqual(detail?["valid"] as? Bool, false, broken.name)
            let categories = (detail?["errors"] as? [[String: Any]] ?? []).compactMap { $0["category"] as? String }
            XCTAssertTrue(categories.contains(broken.category), "\(broken.name): \(categories)")
            // Gateway, verify: the same report.
            let verify = try HTTPClient(baseURL: stack.apiURL, token: token).uploadMultipart(
                path: "/admin/backup/verify", fields: [], fileField: "file", filePath: path, fileName: "x.json",
                contentType: "application/json", onProgress: { _, _ in })
            XCTAssertEqual(verify.status, 200)
            let report = try JSONSerialization.jsonObject(with: verify.body) as? [String: Any]
            XCTAssertEqual(report?["valid"] as? Bool, false, broken.name)
            // CLI: exit 1 with the finding.
            let cli = try stack.kg(["admin", "verify", path, "--json"])
            XCTAssertEqual(cli.exitCode, 1, "\(broken.name): \(cli.summary)")
            XCTAssertTrue(cli.stdout.contains("\"\(broken.category)\""), "\(broken.name): \(cli.stdout)")
        }
        XCTAssertEqual(try stack.graphChecksum(), before)
        XCTAssertEqual(try stack.jobCount(), 0, "invalid uploads create no job")
        XCTAssertEqual(stack.tempFiles(), [], "invalid uploads leave no temp file")
    }

    func testWorkerChecksTheFileItself() throws {
        // Bypass the gateway: jobs naming broken files go straight to the queue.
        try stack.loadSample(concepts: 10, dimensions: 4)
        let before = try stack.graphChecksum()
        for broken in Self.brokenFiles {
            try submitDirectly(broken.content, name: broken.name)
        }
        XCTAssertEqual(try stack.graphChecksum(), before)
        XCTAssertEqual(stack.tempFiles(), [], "the worker removes the file on failure")
    }

    /// Writes `content` to temp storage and queues a restore job for it, as a gateway would.
    func submitDirectly(_ content: String, name: String) throws {
        let id = UUID().uuidString.lowercased()
        let path = stack.tempDir + "/restore_\(id).json"
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        let params = RestoreJobParams(
            mode: .replace, dryRun: false, externalDeps: .fail, tempFile: path, fileName: "x.json",
            fileBytes: 10, backupType: "full_backup", ontology: nil, statistics: [:])
        let db = try stack.db()
        defer { db.close() }
        try JobStore(db).create(
            jobID: id, type: "restore", username: "admin",
            params: String(decoding: try JSONEncoder().encode(params), as: UTF8.self), tempFile: path)
        let publisher = JobPublisher(url: try AMQPURL(stack.amqpURL), topology: JobTopology(prefix: stack.prefix))
        defer { publisher.shutdown() }
        let message = try JSONEncoder().encode(JobMessage(jobID: id, jobType: "restore"))
        let done = expectation(description: "published")
        Task {
            try await publisher.publish(job: Array(message), messageId: id)
            done.fulfill()
        }
        wait(for: [done], timeout: 10)
        let job = try stack.waitForJob(id)
        XCTAssertEqual(job["status"] as? String, "failed", name)
        XCTAssertTrue((job["error"] as? String ?? "").contains("invalid"), "\(name): \(job)")
    }

    /// Concepts go into the live table in binary: numbers keep their exact value, a
    /// number out of range for double precision fails the restore with its name (and
    /// changes nothing), and `created_at` accepts what PostgreSQL accepts, NULL included.
    func testConceptsLoadedInBinaryKeepValuesAndRefuseOutOfRangeNumbers() throws {
        try stack.loadSample(concepts: 5, dimensions: 4)
        let before = try stack.graphChecksum()
        func file(_ embedding: String, createdAt: String) -> String {
            #"{"version":"1.0","type":"full_backup","schema_version":\#(SchemaConverters.latestVersion),"producer":{"name":"kg","version":"0.1.0"},"statistics":{"concepts":2,"sources":0,"instances":0,"relationships":0},"data":{"concepts":[{"concept_id":"c1","label":"One","description":null,"search_terms":["a","b \"q\""],"embedding":\#(embedding),"created_at":\#(createdAt)},{"concept_id":"c2","label":"Two","description":"d","search_terms":null,"embedding":null,"created_at":null}],"sources":[],"instances":[],"relationships":[]}}"#
        }
        let bad = stack.root + "/out-of-range.json"
        try file("[0.5,1e999]", createdAt: "null").write(toFile: bad, atomically: true, encoding: .utf8)
        // The checker applies the restore's range rule (issue 12): refused at upload, naming record and field.
        let (status, refusal) = try stack.uploadRestore(bad)
        XCTAssertEqual(status, 400, "\(refusal)")
        XCTAssertTrue("\(refusal)".contains("data.concepts[0] (c1): embedding[1] holds 1e999, out of range"), "\(refusal)")
        XCTAssertEqual(try stack.graphChecksum(), before, "nothing changed")

        let good = stack.root + "/binary.json"
        try file("[0.1,-2.5e-300,0.30000000000000004,-0,17976931348623157e292]", createdAt: #""2025-03-04 05:06:07.5+02""#)
            .write(toFile: good, atomically: true, encoding: .utf8)
        let done = try restore(good)
        XCTAssertEqual(done["status"] as? String, "completed", "\(done)\n\(stack.logs)")
        let db = try stack.db()
        defer { db.close() }
        let c1 = try db.query(
            """
            SELECT embedding = ARRAY[0.1, -2.5e-300, 0.30000000000000004, -0, 17976931348623157e292]::float8[] AS same,
                   embedding::text AS text, search_terms::text AS terms, description IS NULL AS no_description,
                   created_at = '2025-03-04 03:06:07.5+00'::timestamptz AS created
            FROM kg.concepts WHERE concept_id = 'c1'
            """)
        XCTAssertEqual(c1.first("same"), "t", c1.first("text") ?? "")
        XCTAssertEqual(c1.first("terms"), #"{a,"b \"q\""}"#)
        XCTAssertEqual(c1.first("no_description"), "t")
        XCTAssertEqual(c1.first("created"), "t")
        let c2 = try db.query(
            "SELECT embedding::text AS e, search_terms::text AS t, created_at IS NULL AS no_date FROM kg.concepts WHERE concept_id = 'c2'")
        XCTAssertEqual(c2.first("e"), "{}")
        XCTAssertEqual(c2.first("t"), "{}")
        XCTAssertEqual(c2.first("no_date"), "t", "a NULL created_at stays NULL (not the column's default)")
    }

    func testWarningsDoNotStopARestore() throws {
        // Statistics that disagree, a relationship type nobody defined, no timestamp: warnings only.
        let path = stack.root + "/warnings.json"
        try
            #"{"version":"1.0","type":"full_backup","statistics":{"concepts":5},"data":{"concepts":[{"concept_id":"c1","label":"C","search_terms":[],"embedding":[]},{"concept_id":"c2","label":"D","search_terms":[],"embedding":[]}],"sources":[],"instances":[],"relationships":[{"from":"c1","to":"c2","type":"NEVER_DEFINED","properties":{}}]}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let (status, json) = try stack.uploadRestore(path)
        XCTAssertEqual(status, 202, "\(json)")
        let warnings = json["integrity_warnings"] as? [String] ?? []
        XCTAssertTrue(warnings.contains { $0.contains("concepts") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("NEVER_DEFINED") }, "\(warnings)")
        let job = try stack.waitForJob(try XCTUnwrap(json["job_id"] as? String))
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)")
        XCTAssertEqual(
            try stack.db().query("SELECT category FROM kg.vocabulary WHERE relationship_type = 'NEVER_DEFINED'").first("category"), "custom")
    }

    func testTruncatedUploadLeavesNoTempFileAndNoJob() throws {
        let token = try stack.token()
        // A raw connection that promises 5 MB and hangs up after 300 KB.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(stack.gatewayPorts[0]).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(connected, 0)
        let boundary = "kgtestboundary"
        let head =
            "POST /admin/restore HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: multipart/form-data; boundary=\(boundary)\r\nContent-Length: 5000000\r\n\r\n"
            + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.json\"\r\n\r\n"
            + "{\"version\":\"1.0\",\"type\":\"full_backup\",\"data\":{\"concepts\":["
        _ = head.withCString { send(fd, $0, strlen($0), 0) }
        let filler = String(repeating: "{\"concept_id\":\"x\",\"label\":\"y\"},", count: 10_000)
        _ = filler.withCString { send(fd, $0, strlen($0), 0) }
        usleep(300_000)
        close(fd)
        var files: [String] = ["?"]
        for _ in 0..<50 {
            files = stack.tempFiles()
            if files.isEmpty { break }
            usleep(100_000)
        }
        XCTAssertEqual(files, [], "a broken-off upload leaves no temp file")
        XCTAssertEqual(try stack.jobCount(), 0, "and no job")
    }

    func testUploadsOverTheLimitAreRefused() throws {
        try restart(["KG_MAX_UPLOAD_BYTES": "100000"])
        try stack.loadSample(concepts: 30, dimensions: 64)
        let file = try backup()
        let (status, json) = try stack.uploadRestore(file)
        XCTAssertEqual(status, 413, "\(json)")
        XCTAssertTrue((json["error"] as? String ?? "").contains("larger"), "\(json)")
        XCTAssertEqual(stack.tempFiles(), [])
        XCTAssertEqual(try stack.jobCount(), 0)
    }

    func testRefusedBeforeTheUploadIsStored() throws {
        try stack.addUser("reader", role: "reader", password: "reader-pw")
        try stack.loadSample(concepts: 10, dimensions: 4)
        let file = try backup()
        for (token, expected) in [(nil as String?, 401), ("kg_wrong", 401), (try stack.token("reader", password: "reader-pw"), 403)] {
            let r = try HTTPClient(baseURL: stack.apiURL, token: token).uploadMultipart(
                path: "/admin/restore", fields: [], fileField: "file", filePath: file, fileName: "b.json",
                contentType: "application/json", onProgress: { _, _ in })
            XCTAssertEqual(r.status, expected)
        }
        XCTAssertEqual(stack.tempFiles(), [])
        XCTAssertEqual(try stack.jobCount(), 0)
    }

    // MARK: Faults and concurrency

    func testKilledWorkerMidRestoreLeavesTheGraphAsBeforeAndAnotherFinishes() throws {
        try restart(["KG_TEST_RECORD_DELAY_MS": "8"])
        try stack.loadSample(concepts: 60, dimensions: 8)
        let file = try backup()
        let db = try stack.db()
        defer { db.close() }
        try db.execute("DELETE FROM kg.relationships WHERE relationship_id % 3 = 0; UPDATE kg.concepts SET label = 'before'")
        let before = try stack.graphChecksum()
        let (status, json) = try stack.uploadRestore(file)
        XCTAssertEqual(status, 202)
        let id = try XCTUnwrap(json["job_id"] as? String)
        var holder: String?
        let deadline = Date().addingTimeInterval(30)
        while holder == nil && Date() < deadline {
            let r = try db.query("SELECT worker_id, progress->>'stage' AS stage FROM kg_api.jobs WHERE job_id = $1::uuid", [id])
            if r.first("stage") == "loading", let worker = r.first("worker_id") { holder = worker }
            usleep(20_000)
        }
        let worker = try XCTUnwrap(holder.flatMap { stack.workers[$0] }, "restore never reached loading\n\(stack.logs)")
        worker.killHard()
        usleep(300_000)
        XCTAssertEqual(try stack.graphChecksum(), before, "a killed restore leaves the graph exactly as before")
        let job = try stack.waitForJob(id)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        XCTAssertEqual(job["attempts"] as? Int, 2)
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg.concepts WHERE label = 'before'").first("n"), "0")
        XCTAssertEqual(stack.tempFiles(), [])
    }

    func testCancellingARunningRestoreRollsBack() throws {
        try restart(["KG_TEST_RECORD_DELAY_MS": "10"])
        try stack.loadSample(concepts: 60, dimensions: 8)
        let file = try backup()
        try stack.wipeGraph()
        let before = try stack.fingerprint()
        let (status, json) = try stack.uploadRestore(file)
        XCTAssertEqual(status, 202, "\(json)")
        let id = try XCTUnwrap(json["job_id"] as? String)
        let db = try stack.db()
        defer { db.close() }
        // Cancel only a restore that is loading inside its transaction (not one still queued).
        try stack.waitUntil(30, "the restore to be loading") {
            try db.query("SELECT progress->>'stage' AS s FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("s") == "loading"
        }
        try stack.waitUntil(10, "the restore's data session to hold an open transaction") { try self.openTransactions(id, db) > 0 }
        let cancel = try stack.kg(["job", "cancel", id])
        XCTAssertEqual(cancel.exitCode, 0, cancel.summary)
        let job = try stack.waitForJob(id)
        XCTAssertEqual(job["status"] as? String, "cancelled", "\(job)")
        // "cancelled" is the row; the graph is safe only once the worker's transaction has ended (rolled back).
        try stack.waitUntil(30, "the worker's transaction to end") { try self.openTransactions(id, db) == 0 }
        try stack.assertGraph(equals: before, "right after the cancelled restore's transaction ended")
        // A worker that ignored the cancel would commit a little later: look again.
        sleep(3)
        try stack.assertGraph(equals: before, "3 s after the cancelled restore's transaction ended")
        XCTAssertEqual(try db.query("SELECT status FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("status"), "cancelled")
        XCTAssertEqual(stack.tempFiles(), [])
        XCTAssertTrue(stack.workers.values.allSatisfy(\.isRunning))
    }

    /// Sessions of job `id`'s data connection (`kgw:<job>:data`) inside a transaction.
    func openTransactions(_ id: String, _ db: PGConnection) throws -> Int {
        Int(
            try db.query(
                """
                SELECT count(*) AS n FROM pg_stat_activity
                WHERE datname = current_database() AND application_name = $1 AND xact_start IS NOT NULL
                """, ["kgw:\(id):data"]
            ).first("n") ?? "-1") ?? -1
    }

    /// Backups taken while a replace restore runs see the old graph or the new one,
    /// whole (every section, record for record), never a mix. The old graph is
    /// larger than the new one, so a backup started while the restore loads is
    /// still exporting when the restore commits: the job rows prove the overlap.
    func testBackupsDuringARestoreSeeOldOrNewGraphNeverAMix() throws {
        try restart(["KG_TEST_RECORD_DELAY_MS": "5"])
        // The new graph (B) is written to a file; the live graph is A, and a backup of A is what "old" means.
        try stack.loadSample(concepts: 80, dimensions: 4, seed: 2)
        let fileB = try backup()
        try stack.loadSample(concepts: 240, dimensions: 4, seed: 1)
        let fileA = try backup()
        let graphA = try BackupFile(path: fileA), graphB = try BackupFile(path: fileB)
        XCTAssertFalse(NSDictionary(dictionary: graphA.data).isEqual(to: graphB.data))
        let db = try stack.db()
        defer { db.close() }
        let (status, json) = try stack.uploadRestore(fileB)
        XCTAssertEqual(status, 202, "\(json)")
        let id = try XCTUnwrap(json["job_id"] as? String)
        try stack.waitUntil(30, "the restore to be loading") {
            try db.query("SELECT progress->>'stage' AS s FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("s") == "loading"
        }
        // Back to back while the restore runs (the first one outlasts it), then one after it.
        var files: [String] = []
        repeat {
            let r = try stack.kg(["admin", "backup", "--type", "full"])
            XCTAssertEqual(r.exitCode, 0, r.summary)
            files.append(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        } while try db.query("SELECT status FROM kg_api.jobs WHERE job_id = $1::uuid", [id]).first("status") == "running"
        let job = try stack.waitForJob(id)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)")
        let after = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(after.exitCode, 0, after.summary)
        files.append(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines))

        // The restore committed after `locked_until` and before its row's completed_at: which backups ran across that?
        let committed = try XCTUnwrap((job["result"] as? [String: Any])?["locked_until"] as? String, "\(job)")
        let backups = try db.query(
            """
            SELECT b.started_at < $2::timestamptz AND b.completed_at > r.completed_at AS across, b.status
            FROM kg_api.jobs b, kg_api.jobs r
            WHERE r.job_id = $1::uuid AND b.job_type = 'backup' AND b.created_at > r.created_at
            ORDER BY b.created_at
            """, [id, committed]
        ).records
        XCTAssertEqual(backups.count, files.count, "one backup job per backup taken: \(backups)")
        XCTAssertTrue(backups.allSatisfy { ($0["status"] ?? nil) == "completed" }, "\(backups)")
        let across = backups.indices.filter { (backups[$0]["across"] ?? nil) == "t" }
        XCTAssertFalse(across.isEmpty, "no backup began before the restore committed (locked until \(committed)) and ended after it: \(backups)")
        for (index, path) in files.enumerated() {
            let seen = NSDictionary(dictionary: try BackupFile(path: path).data)
            let old = seen.isEqual(to: graphA.data), new = seen.isEqual(to: graphB.data)
            XCTAssertTrue(
                old || new,
                "backup \(index + 1) of \(files.count) is neither the old graph nor the new one, whole"
                    + (across.contains(index) ? " (it ran across the restore's commit)" : ""))
        }
        XCTAssertTrue(NSDictionary(dictionary: try BackupFile(path: files.last!).data).isEqual(to: graphB.data), "after the restore: the new graph")
    }
}
