import Foundation
import KGClient
import KGFormat
import KGTestSupport
import XCTest

/// Fuzzes the real system: a valid backup taken from a running stack is
/// mutated (truncation, random bytes, wrong types, huge strings and numbers,
/// deep nesting, duplicate keys, invalid UTF-8, NUL escapes, gzip, truncated
/// gzip) and each file goes through `kg admin verify --json`,
/// `POST /admin/backup/verify` and `POST /admin/restore`; then one gzip bomb
/// against a gateway whose `KG_MAX_DECOMPRESSED_BYTES` is small.
///
/// Each input: the CLI exits 0 or 1 (never another code, never a signal) with
/// a JSON report on stdout that agrees with its exit code and with the
/// in-process checker; verify answers 200 with the same verdict (or 400/413
/// with a JSON error); restore answers 202 only for a valid file, and that
/// job ends, completed or failed with an error naming the record and field
/// PostgreSQL refused; 400/413 otherwise, with a JSON error. After each restore job
/// the graph is the before-state (a completed real restore is undone by
/// restoring the original backup, and then it must be). At the end: no job
/// left running, one job per 202, no temp file, every process alive, /readyz 200.
///
/// `KG_FUZZ_SECONDS` (default 20) bounds the mutation loop; `KG_FUZZ_SEED` replays.
final class FuzzTests: XCTestCase {
    static let env = ProcessInfo.processInfo.environment
    static let seconds = env["KG_FUZZ_SECONDS"].flatMap(Double.init) ?? 20
    static let seed: UInt64 = env["KG_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max / 2)
    /// `KG_FUZZ_CASE=N` (with the run's `KG_FUZZ_SEED`) sends only case N.
    static let onlyCase = env["KG_FUZZ_CASE"].flatMap(Int.init)
    static let decompressionLimit = 32 << 20
    static let categories: Set<String> = ["format", "references", "consistency", "external_deps", "vocabulary", "info"]

    var stack: TestStack!

    override func setUpWithError() throws {
        Self.unavailable = []
        stack = try TestStack(environment: ["KG_MAX_DECOMPRESSED_BYTES": String(Self.decompressionLimit)])
        try stack.loadSample(concepts: 16, ontologies: 2, dimensions: 1536)
        try stack.login()
    }

    override func tearDown() {
        stack?.stop()
    }

    // MARK: - The test

    func testMutatedBackupsThroughCLIVerifyAndRestore() throws {
        let started = Date()
        print("FuzzTests (system): seed \(Self.seed) (replay with KG_FUZZ_SEED=\(Self.seed)), \(Self.seconds) s")
        let full = try backup(["--type", "full"])
        let names = try stack.db()
        let ontologyName = try XCTUnwrap(try names.query("SELECT name FROM kg.ontologies ORDER BY name LIMIT 1").first("name"))
        names.close()
        let ontology = try backup(["--type", "ontology", "--ontology", ontologyName, "--compress", "gzip"])
        let fullBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: full)))
        let ontologyBytes = try inflate([UInt8](try Data(contentsOf: URL(fileURLWithPath: ontology))))
        let bases = [("full", fullBytes), ("ontology", ontologyBytes)].map { name, bytes in
            (name: name, bytes: bytes, tree: try! JSONValue.parse(String(decoding: bytes, as: UTF8.self), maxDepth: 64))
        }
        let before = try stack.fingerprint(.content)
        let token = try stack.token()
        let dir = stack.root + "/fuzz"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        print(
            "FuzzTests (system): stack ready and backups taken in \(String(format: "%.1f", Date().timeIntervalSince(started))) s; full \(fullBytes.count) bytes, ontology \(ontologyBytes.count) bytes"
        )

        var rng = SeededGenerator(seed: Self.seed)
        var run = Run(dir: dir, token: token, before: before, beforeTables: try tableDigests(), full: full)

        // Fixed cases first: what the fuzzing found (fixed in KGFormat) must stay refused at the door.
        let fullTree = bases[0].tree
        let labelWithNUL = fullTree.setting(["data", "concepts", "0", "label"], to: .string("before\u{0}after"))
        let vocabulary = fullTree["data"]?["vocabulary"]?.arrayValue ?? []
        let twiceListed = fullTree.setting(["data", "vocabulary"], to: .array(vocabulary + vocabulary.prefix(1)))
        for (name, document) in [("U+0000 in a label", labelWithNUL), ("a vocabulary type listed twice", twiceListed)] {
            if Self.onlyCase != nil {
                run.cases += 1
                continue
            }
            let outcome = try runCase(&run, bytes: document.jsonBytes, kind: "fixed", note: name, dryRun: false)
            XCTAssertEqual(outcome, "restore 400", "\(name): refused at upload, not accepted and failed in the worker")
        }
        // A value of the wrong type inside a record passes the file's rules (they
        // are about shape and references) and is refused by PostgreSQL while
        // loading. In a merge, a risky restore, that failure rolls the graph back
        // to the checkpoint, which is kept: the end-of-run check must allow it.
        let numberAsTime = bases[1].tree.setting(["data", "vocabulary", "0", "added_at"], to: .number("-1e999999"))
        if Self.onlyCase != nil {
            run.cases += 1
        } else {
            let outcome = try runCase(
                &run, bytes: numberAsTime.jsonBytes, kind: "fixed", note: "a number as a vocabulary added_at, merged", dryRun: false)
            XCTAssertEqual(outcome, "restore 202 real failed", "a merge of a value PostgreSQL refuses fails in the worker")
            XCTAssertTrue(run.failures.last?.contains("rolled back to checkpoint") == true, "\(run.failures.last ?? "no failure")")
            XCTAssertTrue(
                run.failures.last?.contains("vocabulary[0], field added_at") == true,
                "the message names the record and the field: \(run.failures.last ?? "no failure")")
        }
        // An id too long for an index (incompressible, so PostgreSQL cannot shrink
        // it): refused while loading, with the record's section and field named.
        var noise = SeededGenerator(seed: 7)
        let longID = String((0..<6000).map { _ in "abcdefghijklmnopqrstuvwxyz0123456789".randomElement(using: &noise)! })
        let longInstanceID = bases[1].tree.setting(["data", "instances", "0", "instance_id"], to: .string(longID))
        if Self.onlyCase != nil {
            run.cases += 1
        } else {
            let outcome = try runCase(&run, bytes: longInstanceID.jsonBytes, kind: "fixed", note: "a 6000-byte instance_id, dry run", dryRun: true)
            XCTAssertEqual(outcome, "restore 202 dry run failed", "PostgreSQL cannot index it")
            let message = run.failures.last ?? "no failure"
            XCTAssertTrue(message.contains("instance_id") && message.contains("cannot be indexed"), message)
        }

        let deadline = Date().addingTimeInterval(Self.onlyCase == nil ? Self.seconds : 3600)
        while Date() < deadline {
            let base = rng.pick(bases)
            let kind = rng.pick(SystemMutation.allCases)
            let (bytes, note) = SystemMutator.mutate(base.bytes, tree: base.tree, kind: kind, rng: &rng)
            let dryRun = rng.chance(0.7)
            let fileExtension = rng.pick(["json", "json.gz", "bin"])
            if let only = Self.onlyCase, run.cases != only {
                // Replaying one case: the ones before it are made (to advance the generator), not sent.
                run.cases += 1
                continue
            }
            _ = try runCase(
                &run, bytes: bytes, kind: kind.rawValue, note: "\(note), from the \(base.name) backup",
                dryRun: dryRun, fileExtension: fileExtension)
            if Self.onlyCase != nil { break }
        }
        let cases = run.cases
        let tally = run.tally
        let accepted = run.accepted
        let failures = run.failures
        print("FuzzTests (system): \(cases) cases in \(String(format: "%.1f", Self.seconds)) s; seed \(Self.seed)")
        tally.print(kinds: ["fixed"] + SystemMutation.allCases.map(\.rawValue))
        for failure in failures { print("  failed job: \(failure)") }
        if run.injectedBuiltins > 0 { print("  known bug (injected built-in vocabulary types surviving a replace): \(run.injectedBuiltins) types") }
        if Self.onlyCase == nil { XCTAssertGreaterThan(cases, 5, "too few cases to mean anything") }

        try gzipBomb(dir: dir, token: token)

        // Afterwards: everything as before, nothing left behind, everyone alive.
        let open = try retrying {
            let db = try stack.db()
            defer { db.close() }
            return try db.query("SELECT count(*) AS n FROM kg_api.jobs WHERE status NOT IN ('completed', 'failed', 'cancelled')").first("n")
        }
        XCTAssertEqual(
            open, "0",
            "jobs not in a terminal state"
                + (restore503Count() > 0
                    ? " (after \(restore503Count()) answers 503: the gateway's `try?` around marking the job failed loses the update when the database is away too)"
                    : ""))
        // A 503 "the job queue is unavailable" leaves its (failed) job row; nothing else may.
        let restore503 = Self.unavailable.filter { $0 == "/admin/restore" }.count
        let jobs = try retrying { try stack.jobCount() }
        XCTAssertTrue(
            (accepted...(accepted + restore503)).contains(jobs),
            "\(jobs) restore jobs for \(accepted) answers 202 and \(restore503) answers 503: one job per 202, none for refused uploads")
        let end = try retrying { try stack.fingerprint(.content) }
        XCTAssertEqual(end, before, end.differences(from: before))
        // A risky restore (a merge) that failed after its checkpoint keeps that
        // checkpoint for inspection, by design (issue 4, `checkpoint_retention`,
        // default 3): those files, and only those, may stay.
        let kept = try retrying { try keptCheckpoints(stack) }
        XCTAssertLessThanOrEqual(kept.count, 3, "more failure checkpoints than checkpoint_retention keeps: \(kept)")
        for checkpoint in kept {
            XCTAssertEqual(checkpoint.status, "kept", "a rollback to checkpoint \(checkpoint.file) failed")
            XCTAssertEqual(checkpoint.jobStatus, "failed", "checkpoint \(checkpoint.file) kept for a job that did not fail")
            XCTAssertTrue(
                checkpoint.jobError.contains("rolled back to checkpoint"),
                "the job of checkpoint \(checkpoint.file) does not say it was rolled back: \(checkpoint.jobError)")
        }
        let keptFiles = Set(kept.map(\.file))
        var temp = stack.tempFiles().filter { !keptFiles.contains($0) }
        let tempDeadline = Date().addingTimeInterval(10)
        while !temp.isEmpty && Date() < tempDeadline {
            usleep(200_000)
            temp = stack.tempFiles().filter { !keptFiles.contains($0) }
        }
        XCTAssertEqual(temp, [], "temp files left behind (\(kept.count) kept failure checkpoint(s) aside)")
        if !kept.isEmpty { print("  kept failure checkpoints (by design): \(kept.map(\.file).joined(separator: ", "))") }
        XCTAssertTrue(stack.gateways[0].isRunning, "the gateway died\n\(stack.logs)")
        for (id, worker) in stack.workers { XCTAssertTrue(worker.isRunning, "worker \(id) died\n\(stack.logs)") }
        let ready = try HTTPClient(baseURL: stack.apiURL, token: nil, connectTimeout: 2, requestTimeout: 5).request(method: "GET", path: "/readyz")
        XCTAssertEqual(ready.status, 200)
        print("FuzzTests (system): \(String(format: "%.1f", Date().timeIntervalSince(started))) s in all")
    }

    /// A failure checkpoint kept in temp storage, with how its job ended.
    struct KeptCheckpoint {
        let file: String
        let status: String
        let jobStatus: String
        let jobError: String
    }

    private func keptCheckpoints(_ stack: TestStack) throws -> [KeptCheckpoint] {
        let db = try stack.db()
        defer { db.close() }
        let result = try db.query(
            """
            SELECT c.file_name, c.status, coalesce(j.status, 'missing') AS job_status, coalesce(j.error, '') AS job_error
            FROM kg_api.checkpoints c LEFT JOIN kg_api.jobs j ON j.job_id = c.job_id
            WHERE c.status <> 'ready' ORDER BY c.file_name
            """)
        return result.rows.map { KeptCheckpoint(file: $0[0] ?? "", status: $0[1] ?? "", jobStatus: $0[2] ?? "", jobError: $0[3] ?? "") }
    }

    /// Whether a failed restore's error says which record and field PostgreSQL refused,
    /// in the words of RestoreErrorMessage: "the backup cannot be restored: vocabulary[9],
    /// field added_at: …" or "…: a record of instances, field instance_id: …".
    static func namesRefusedRecordAndField(_ message: String) -> Bool {
        let place =
            #"the backup cannot be restored: ([a-z_]+\[[0-9]+\], field [a-z_]+|a record of [a-z_]+, (field [a-z_]+|fields [a-z_]+ and [a-z_]+)): \S"#
        return message.range(of: place, options: .regularExpression) != nil
    }

    /// What the mutation loop keeps between cases.
    struct Run {
        let dir: String
        let token: String
        let before: GraphFingerprint
        let beforeTables: [String: String]
        let full: String
        var tally = Tally()
        var accepted = 0  // 202s, resets included
        var failures: [String] = []  // messages of restore jobs that failed after a 202
        var cases = 0
        var injectedBuiltins = 0  // the known bug above, seen this many times
    }

    /// One input through `kg admin verify --json`, `POST /admin/backup/verify`
    /// and `POST /admin/restore`; returns the restore's outcome.
    /// The schema version the stack's database is at.
    private func databaseSchemaVersion() throws -> Int {
        let db = try stack.db()
        defer { db.close() }
        return Int(try db.query("SELECT max(version) AS v FROM kg_api.schema_migrations").first("v") ?? "0") ?? 0
    }

    @discardableResult
    private func runCase(
        _ run: inout Run, bytes: [UInt8], kind: String, note: String, dryRun: Bool,
        fileExtension: String = "json"
    ) throws -> String {
        let label = "case \(run.cases) (\(kind): \(note); KG_FUZZ_SEED=\(Self.seed))"
        let path = run.dir + "/case-\(run.cases).\(fileExtension)"
        run.cases += 1
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let local = localReport(bytes)

        // kg admin verify
        let cli = try runCLI(["admin", "verify", path, "--json"], timeout: 30)
        run.tally.add(kind, "cli exit \(cli.describe)")
        checkCLI(cli, local: local, label)

        // POST /admin/backup/verify
        let verify = try upload("/admin/backup/verify", path, fields: [], token: run.token)
        run.tally.add(kind, "verify \(verify.status)")
        checkVerify(verify, local: local, label)

        // POST /admin/restore; every other case a resumable upload in two requests instead, whose restore
        // starts loading during the first (a pipelined restore) when the file's metadata comes first.
        let restore =
            run.cases % 2 == 0 && !bytes.isEmpty
            ? try uploadSession(path, dryRun: dryRun, token: run.token)
            : try upload("/admin/restore", path, fields: dryRun ? [("dry_run", "true")] : [], token: run.token)
        guard restore.status == 202 else {
            let outcome = "restore \(restore.status)"
            run.tally.add(kind, outcome)
            // No 409 for a busy graph: nothing else runs on this stack. The one 409 the contract
            // gives a valid file is a backup newer than the database (its schema_version).
            let databaseVersion = try databaseSchemaVersion()
            let newerSchema =
                restore.status == 409 && (local.schemaVersion ?? 0) > databaseVersion
                && body(restore).contains("database is at v")
            XCTAssertTrue([400, 413].contains(restore.status) || newerSchema, "restore answered \(restore.status): \(body(restore)): \(label)")
            XCTAssertNotNil(
                try json(restore.body)?["error"]?.stringValue, "restore \(restore.status) without a JSON error: \(body(restore)): \(label)")
            if restore.status == 400 && !local.valid {
                // The refusal carries the report.
                XCTAssertEqual(try json(restore.body)?["detail"]?["valid"]?.boolValue, false, "\(body(restore)): \(label)")
            }
            return outcome
        }
        run.accepted += 1
        XCTAssertTrue(local.valid, "202 for a file the checker finds invalid: \(local.errors): \(label)")
        let id = try XCTUnwrap(try json(restore.body)?["job_id"]?.stringValue, label)
        let finished = try retrying { try stack.waitForJob(id, timeout: 60) }
        let status = finished["status"] as? String ?? "?"
        let outcome = "restore 202 \(dryRun ? "dry run" : "real") \(status)"
        run.tally.add(kind, outcome)
        XCTAssertTrue(["completed", "failed"].contains(status), "restore job \(status): \(label)")
        if status == "failed" {
            let message = finished["error"] as? String ?? ""
            XCTAssertFalse(message.isEmpty, "a failed restore job without a message: \(label)")
            // The checker accepted the file: the only honest failure left is PostgreSQL refusing a value, named.
            XCTAssertTrue(
                Self.namesRefusedRecordAndField(message),
                "a restore of a file the checker accepted failed without naming the record and field PostgreSQL refused: "
                    + "\(message.prefix(600)): \(label)")
            if run.failures.count < 12 { run.failures.append("\(kind): \(note) → \(message.prefix(300))") }
        }
        if status == "completed" && !dryRun {
            // The graph changed as asked; put it back and require the before-state.
            let reset = try upload("/admin/restore", run.full, fields: [("mode", "replace")], token: run.token)
            XCTAssertEqual(reset.status, 202, body(reset))
            let resetJSON = (try? JSONSerialization.jsonObject(with: reset.body) as? [String: Any]) ?? [:]
            run.accepted += 1
            if let resetID = resetJSON["job_id"] as? String {
                XCTAssertEqual(try retrying { try stack.waitForJob(resetID) }["status"] as? String, "completed", "reset after \(label)")
            }
            try undoInjectedBuiltins(&run, label)
        }
        let now = try retrying { try stack.fingerprint(.content) }
        if now != run.before { print("FuzzTests (system): graph differs after \(label):\n\(try tableDiff(run.beforeTables))") }
        XCTAssertEqual(
            now, run.before,
            "the graph is not the before-state after a \(dryRun ? "dry-run" : "real") restore job (\(status), "
                + "\(finished["error"] ?? "")): \(now.differences(from: run.before)): \(label)")
        return outcome
    }

    /// Built-in status belongs to the schema: a restored file that claims
    /// `"is_builtin": true` for a new type must not create a built-in type (which
    /// no later replace would remove). Regression check for a bug this test found.
    private func undoInjectedBuiltins(_ run: inout Run, _ label: String) throws {
        let db = try stack.db()
        defer { db.close() }
        let injected = try db.query(
            """
            SELECT relationship_type FROM kg.vocabulary v WHERE is_builtin
            AND NOT EXISTS (SELECT 1 FROM public.before_vocabulary b WHERE b.relationship_type = v.relationship_type)
            ORDER BY 1
            """
        ).rows.compactMap { $0[0] }
        guard !injected.isEmpty else { return }
        let names = injected.map { JSONEscaping.quoted($0) }.joined(separator: ", ")
        run.injectedBuiltins += injected.count
        XCTFail("vocabulary types injected as built-in survive a replace: \(names): \(label)")
        _ = try db.query(
            "DELETE FROM kg.vocabulary v WHERE is_builtin AND NOT EXISTS (SELECT 1 FROM public.before_vocabulary b WHERE b.relationship_type = v.relationship_type)"
        )
    }

    static let tables = ["vocabulary", "concepts", "sources", "instances", "evidence", "relationships", "ontologies"]
    /// What identifies a row's content (surrogate ids and creation times left out, as `graphChecksum` does).
    static let rowText = [
        "relationships": "(t.from_concept_id, t.to_concept_id, t.relationship_type, t.properties)::text",
        "ontologies": "t.name",
    ]

    /// md5 of each graph table's rows, for saying which one differs; the
    /// first call also keeps a copy of each table (`public.before_<table>`).
    private func tableDigests() throws -> [String: String] {
        let db = try stack.db()
        defer { db.close() }
        var out: [String: String] = [:]
        for table in Self.tables {
            let row = Self.rowText[table] ?? "t::text"
            out[table] = try db.query(
                "SELECT count(*) || ' rows, ' || coalesce(md5(string_agg(\(row), '|' ORDER BY \(row))), '-') AS d FROM kg.\(table) t"
            ).first("d")
            try db.execute("CREATE TABLE IF NOT EXISTS public.before_\(table) AS SELECT * FROM kg.\(table)")
        }
        return out
    }

    /// The tables whose rows differ from the before-state, with a few rows that are new or gone.
    private func tableDiff(_ before: [String: String]) throws -> String {
        let now = try tableDigests()
        let db = try stack.db()
        defer { db.close() }
        var lines: [String] = []
        for table in Self.tables where now[table] != before[table] {
            lines.append("  kg.\(table): \(before[table] ?? "?") → \(now[table] ?? "?")")
            let now = Self.rowText[table] ?? "t::text"
            let then = now.replacingOccurrences(of: "t.", with: "b.").replacingOccurrences(of: "t::", with: "b::")
            for (sign, query) in [
                ("+", "SELECT \(now) AS r FROM kg.\(table) t EXCEPT SELECT \(then) FROM public.before_\(table) b"),
                ("-", "SELECT \(then) AS r FROM public.before_\(table) b EXCEPT SELECT \(now) FROM kg.\(table) t"),
            ] {
                for row in try db.query(query + " LIMIT 3").rows.compactMap({ $0[0] }) {
                    lines.append("    \(sign) \(row.prefix(300))")
                }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// A 260 KB gzip file that inflates to 256 MiB (8 times the gateway's limit;
    /// `KG_FUZZ_BOMB_MB` for more) of whitespace inside a backup's top level.
    private func gzipBomb(dir: String, token: String) throws {
        let path = dir + "/bomb.json.gz"
        let megabytes = Self.env["KG_FUZZ_BOMB_MB"].flatMap(Int.init) ?? 256
        let bomb = GzipBomb.member(head: Array(#"{"version": "1.0", "type": "full_backup", "#.utf8), fill: 0x20, megabytes: megabytes)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bomb)))
        let expected = "decompresses to more than \(Self.decompressionLimit) bytes"

        var start = Date()
        let verify = try upload("/admin/backup/verify", path, fields: [], token: token)
        let verifySeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(verify.status, 200, body(verify))
        let report = try json(verify.body)
        XCTAssertEqual(report?["valid"]?.boolValue, false)
        XCTAssertTrue(report?["errors"]?.arrayValue?.contains { $0["message"]?.stringValue?.contains(expected) == true } == true, body(verify))

        start = Date()
        let restore = try upload("/admin/restore", path, fields: [], token: token)
        let restoreSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(restore.status, 400, body(restore))
        XCTAssertTrue(body(restore).contains(expected), body(restore))

        // The CLI checks local files without a decompression limit: it inflates all of it.
        let cli = try runCLI(["admin", "verify", path, "--json"], timeout: 120)
        XCTAssertEqual(cli.exitCode, 1, cli.describe)
        XCTAssertFalse(cli.signaled || cli.timedOut, cli.describe)
        print(
            "FuzzTests (system): gzip bomb (\(bomb.count) bytes → \(megabytes) MiB): verify \(verify.status) in \(String(format: "%.2f", verifySeconds)) s, restore \(restore.status) in \(String(format: "%.2f", restoreSeconds)) s, kg admin verify exit \(cli.describe) in \(String(format: "%.1f", cli.seconds)) s (no limit in the CLI)"
        )
        XCTAssertLessThan(verifySeconds, 10)
        XCTAssertLessThan(restoreSeconds, 10)
    }

    // MARK: - Checks

    private func checkCLI(_ cli: CLIOutcome, local: IntegrityReport, _ label: String) {
        XCTAssertFalse(cli.timedOut, "kg admin verify hung: \(label)")
        XCTAssertFalse(cli.signaled, "kg admin verify died of signal \(cli.exitCode): \(cli.stderr.suffix(2000)): \(label)")
        XCTAssertTrue([0, 1].contains(cli.exitCode), "kg admin verify exit \(cli.exitCode): \(cli.stderr.suffix(2000)): \(label)")
        guard let report = try? JSONValue.parse(String(decoding: cli.stdout, as: UTF8.self), maxDepth: 300),
            let valid = report["valid"]?.boolValue
        else {
            return XCTFail("kg admin verify --json printed no JSON report: \(String(decoding: cli.stdout.prefix(500), as: UTF8.self)): \(label)")
        }
        XCTAssertEqual(valid, cli.exitCode == 0, "exit code and report disagree: \(label)")
        XCTAssertEqual(valid, local.valid, "the CLI and the in-process checker disagree: \(label)")
        checkFindings(report, label)
    }

    private func checkVerify(_ response: HTTPResponse, local: IntegrityReport, _ label: String) {
        switch response.status {
        case 200:
            guard let report = try? json(response.body), let valid = report["valid"]?.boolValue else {
                return XCTFail("verify 200 without a report: \(body(response)): \(label)")
            }
            XCTAssertEqual(valid, local.valid, "the gateway and the in-process checker disagree: \(body(response).prefix(1000)): \(label)")
            checkFindings(report, label)
        case 400, 413:
            XCTAssertNotNil(try? json(response.body)?["error"]?.stringValue, "verify \(response.status) without a JSON error: \(label)")
        default:
            XCTFail("verify answered \(response.status): \(body(response)): \(label)")
        }
    }

    private func checkFindings(_ report: JSONValue, _ label: String) {
        for list in ["errors", "warnings", "info"] {
            for finding in report[list]?.arrayValue ?? [] {
                XCTAssertTrue(Self.categories.contains(finding["category"]?.stringValue ?? ""), "\(finding): \(label)")
                XCTAssertFalse((finding["message"]?.stringValue ?? "").isEmpty, "\(finding): \(label)")
            }
        }
        if report["valid"]?.boolValue == false {
            XCTAssertFalse(report["errors"]?.arrayValue?.isEmpty ?? true, "invalid without an error: \(label)")
        }
    }

    // MARK: - Helpers

    private func backup(_ arguments: [String]) throws -> String {
        let r = try stack.kg(["admin", "backup"] + arguments)
        guard r.exitCode == 0 else { throw StackError("backup failed: \(r.summary)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func inflate(_ bytes: [UInt8]) throws -> [UInt8] {
        let decoder = ContentDecoder()
        return try decoder.decode(bytes) + decoder.finish()
    }

    /// What the checker says in process, with the gateway's limit.
    private func localReport(_ bytes: [UInt8]) -> IntegrityReport {
        let checker = IntegrityChecker(maxDecompressedBytes: Self.decompressionLimit)
        checker.feed(bytes)
        return checker.finish()
    }

    /// Uploads `file`. PostgreSQL and RabbitMQ are shared with other sessions,
    /// whose fault tests restart them: a 503 (with its JSON error) is an honest
    /// answer then, and the upload is tried again for up to 60 s.
    private func upload(_ path: String, _ file: String, fields: [(name: String, value: String)], token: String) throws -> HTTPResponse {
        let deadline = Date().addingTimeInterval(60)
        while true {
            let response = try HTTPClient(baseURL: stack.apiURL, token: token, requestTimeout: 60).uploadMultipart(
                path: path, fields: fields, fileField: "file", filePath: file, fileName: URL(fileURLWithPath: file).lastPathComponent,
                contentType: "application/octet-stream", onProgress: { _, _ in })
            guard response.status == 503 else { return response }
            Self.unavailable.append(path)
            XCTAssertNotNil(try? json(response.body)?["error"]?.stringValue, "503 without a JSON error: \(body(response))")
            print("FuzzTests (system): \(path) answered 503 (shared services restarting?): \(body(response).prefix(200))")
            if Date() > deadline { return response }
            sleep(1)
        }
    }

    /// `POST /admin/restore/uploads`, then the file in two `PATCH`es (the first ends a third of the
    /// way in); the answer of the first request that is not a 201 or 204, else the last one's.
    private func uploadSession(_ file: String, dryRun: Bool, token: String) throws -> HTTPResponse {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let create = #"{"size": \#(bytes.count), "file_name": "fuzz.json", "dry_run": \#(dryRun)}"#
        let created = try stack.call("POST", "/admin/restore/uploads", token: token, json: create)
        guard created.status == 201, let url = (try? json(created.body))?["upload_url"]?.stringValue else { return created }
        let client = HTTPClient(baseURL: stack.apiURL, token: token, requestTimeout: 60)
        var last = created
        let cut = bytes.count / 3
        for range in [0..<cut, cut..<bytes.count] {
            last = try client.patchUpload(url, bytes, range)
            guard last.status == 204 else { return last }
        }
        return last
    }

    private func restore503Count() -> Int { Self.unavailable.filter { $0 == "/admin/restore" }.count }

    /// The 503 answers seen (paths), for the job count at the end.
    nonisolated(unsafe) static var unavailable: [String] = []

    /// Runs a database read, retrying for up to 60 s while the shared PostgreSQL is away.
    private func retrying<T>(_ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(60)
        while true {
            do {
                return try body()
            } catch {
                if Date() > deadline || error is StackError { throw error }
                print("FuzzTests (system): database read failed (shared PostgreSQL restarting?): \(error)")
                sleep(1)
            }
        }
    }

    private func json(_ data: Data) throws -> JSONValue? {
        try? JSONValue.parse(String(decoding: data, as: UTF8.self), maxDepth: 300)
    }

    private func body(_ response: HTTPResponse) -> String {
        String(decoding: response.body.prefix(2000), as: UTF8.self)
    }

    struct CLIOutcome {
        let exitCode: Int32
        let signaled: Bool
        let timedOut: Bool
        let stdout: Data
        let stderr: String
        let seconds: Double
        var describe: String { timedOut ? "timeout" : signaled ? "signal \(exitCode)" : "\(exitCode)" }
    }

    /// Runs `kg` with a time limit; tells a signal from an exit code.
    private func runCLI(_ arguments: [String], timeout: Double) throws -> CLIOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: stack.binDir + "/kg")
        process.arguments = arguments
        process.environment = stack.cliEnvironment()
        let base = NSTemporaryDirectory() + "kg-fuzz-cli-" + UUID().uuidString
        FileManager.default.createFile(atPath: base + ".out", contents: nil)
        FileManager.default.createFile(atPath: base + ".err", contents: nil)
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        var timedOut = false
        while process.isRunning {
            if Date().timeIntervalSince(start) > timeout {
                timedOut = true
                process.terminate()  // this child only
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        return CLIOutcome(
            exitCode: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal && !timedOut,
            timedOut: timedOut, stdout: (try? Data(contentsOf: URL(fileURLWithPath: base + ".out"))) ?? Data(),
            stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "",
            seconds: Date().timeIntervalSince(start))
    }

    struct Tally {
        private var counts: [String: [String: Int]] = [:]
        mutating func add(_ kind: String, _ outcome: String) { counts[kind, default: [:]][outcome, default: 0] += 1 }
        func print(kinds: [String]) {
            var outcomes: [String: Int] = [:]
            for kind in kinds {
                let c = counts[kind] ?? [:]
                Swift.print(
                    "  \(kind.padding(toLength: 14, withPad: " ", startingAt: 0)) "
                        + c.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
                for (outcome, n) in c { outcomes[outcome, default: 0] += n }
            }
            Swift.print("  per outcome: " + outcomes.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        }
    }
}

// MARK: - Mutations (a smaller copy of Tests/KGFormatTests/FuzzSupport.swift: test targets share no code)

enum SystemMutation: String, CaseIterable {
    case truncate, byteFlip, byteInsert, byteDelete, wrongType, hugeString, hugeNumber, deepNesting
    case duplicateKey, invalidUTF8, nulEscape, gzipOfMutated, truncatedGzip
}

enum SystemMutator {
    static let replacements: [JSONValue] = ["text", "", 7, .number("-2.5e3"), .object([]), ["k": [1]], .array([]), ["x"], nil, true]
    static let numbers = [
        "1e999999", "-1e999999", "9223372036854775808", "2147483648", "1" + String(repeating: "0", count: 400),
        "-0", "4.9e-324", "1.7976931348623157e309", "0.1e-99999",
    ]
    static let badUTF8: [[UInt8]] = [
        [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80],
    ]

    static func mutate(_ doc: [UInt8], tree: JSONValue, kind: SystemMutation, rng: inout SeededGenerator) -> ([UInt8], String) {
        switch kind {
        case .truncate:
            let cut = rng.int(0..<doc.count)
            return (Array(doc[..<cut]), "cut at \(cut) of \(doc.count)")
        case .byteFlip:
            var out = doc
            for _ in 0..<rng.int(1...6) {
                let p = rng.int(0..<out.count)
                out[p] ^= UInt8(1 << rng.int(0...7))
            }
            return (out, "bits flipped")
        case .byteInsert:
            var out = doc
            for _ in 0..<rng.int(1...6) {
                let junk =
                    rng.chance(0.5)
                    ? Array(rng.pick(["{", "}", "[", "]", ",", ":", "\"", "\\", "nul", "-"]).utf8)
                    : [UInt8(truncatingIfNeeded: rng.next())]
                out.insert(contentsOf: junk, at: rng.int(0...out.count))
            }
            return (out, "bytes inserted")
        case .byteDelete:
            var out = doc
            for _ in 0..<rng.int(1...6) where !out.isEmpty {
                let p = rng.int(0..<out.count)
                out.removeSubrange(p..<min(out.count, p + rng.pick([1, 1, 2, 40])))
            }
            return (out, "bytes deleted")
        case .wrongType:
            var note = ""
            let tree = replaceRandomNode(tree, &rng) { old, rng in
                let new = rng.pick(replacements.filter { $0.kind != old.kind })
                note = "\(old.kind) → \(new.kind)"
                return new
            }
            return (tree.jsonBytes, note)
        case .hugeString:
            let size = rng.int(1...2) << 20
            let text = String(repeating: rng.pick(["a", "é", "意", "🧠", "\\"]), count: size / 4)
            return (replaceRandomNode(tree, &rng) { _, _ in .string(text) }.jsonBytes, "a string of \(text.utf8.count) bytes")
        case .hugeNumber:
            let n = rng.pick(numbers)
            return (replaceRandomNode(tree, &rng) { _, _ in .number(JSONNumber(n)) }.jsonBytes, "number \(n.prefix(30))")
        case .deepNesting:
            let marker = "\u{1}DEEP\u{1}"
            let bytes = replaceRandomNode(tree, &rng) { _, _ in .string(marker) }.jsonBytes
            let depth = rng.pick([100_000, 300, 250])
            let nested = [UInt8](repeating: 0x5B, count: depth) + (rng.chance(0.5) ? [UInt8](repeating: 0x5D, count: depth) : [])
            return (splice(bytes, marker, nested), "\(depth) brackets")
        case .duplicateKey:
            return (duplicate(tree, &rng).jsonBytes, "a key twice")
        case .invalidUTF8:
            var out = doc
            let quotes = doc.indices.filter { doc[$0] == 0x22 }
            let at = min(out.count, rng.pick(quotes) + 1)
            out.insert(contentsOf: rng.pick(badUTF8), at: at)
            return (out, "invalid UTF-8 at \(at)")
        case .nulEscape:
            var out = doc
            let quotes = doc.indices.filter { doc[$0] == 0x22 }
            let at = min(out.count, rng.pick(quotes) + 1)
            out.insert(contentsOf: Array(rng.pick(["\\u0000", "\\ud83e\\udde0", "\\u001f", "\\\\", "\\\""]).utf8), at: at)
            return (out, "escape at \(at)")
        case .gzipOfMutated:
            let inner = rng.pick([SystemMutation.truncate, .byteFlip, .wrongType, .duplicateKey, .hugeNumber, .invalidUTF8])
            let (mutated, note) = rng.chance(0.25) ? (doc, "unchanged") : mutate(doc, tree: tree, kind: inner, rng: &rng)
            return (gzip(mutated), "gzip of (\(inner): \(note))")
        case .truncatedGzip:
            let compressed = gzip(doc)
            let cut = rng.int(0..<compressed.count)
            return (Array(compressed[..<cut]), "gzip cut at \(cut) of \(compressed.count)")
        }
    }

    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        let compressor = try! GzipCompressor(level: 6)
        return compressor.compress(bytes) + compressor.finish()
    }

    static func splice(_ bytes: [UInt8], _ marker: String, _ raw: [UInt8]) -> [UInt8] {
        let needle = JSONValue.string(marker).jsonBytes
        guard needle.count <= bytes.count else { return bytes }
        outer: for i in 0...(bytes.count - needle.count) {
            for k in 0..<needle.count where bytes[i + k] != needle[k] { continue outer }
            return Array(bytes[..<i]) + raw + Array(bytes[(i + needle.count)...])
        }
        return bytes
    }

    /// Goes deeper with probability 3/4 at each container, then replaces the node reached.
    static func replaceRandomNode(
        _ value: JSONValue, _ rng: inout SeededGenerator,
        _ replace: (JSONValue, inout SeededGenerator) -> JSONValue
    ) -> JSONValue {
        switch value {
        case .object(var members) where !members.isEmpty && rng.chance(0.85):
            let k = rng.int(0..<members.count)
            members[k].value = replaceRandomNode(members[k].value, &rng, replace)
            return .object(members)
        case .array(var elements) where !elements.isEmpty && rng.chance(0.75):
            let k = rng.int(0..<elements.count)
            elements[k] = replaceRandomNode(elements[k], &rng, replace)
            return .array(elements)
        default:
            return replace(value, &rng)
        }
    }

    static func duplicate(_ value: JSONValue, _ rng: inout SeededGenerator, depth: Int = 0) -> JSONValue {
        switch value {
        case .object(var members) where !members.isEmpty:
            let k = rng.int(0..<members.count)
            if depth < 4 && rng.chance(0.5) && [.object, .array].contains(members[k].value.kind) {
                members[k].value = duplicate(members[k].value, &rng, depth: depth + 1)
                return .object(members)
            }
            var copy = members[k]
            if rng.chance(0.3) { copy.value = rng.pick(replacements) }
            members.insert(copy, at: rng.int(0...members.count))
            return .object(members)
        case .array(var elements) where !elements.isEmpty:
            let k = rng.int(0..<min(elements.count, 4))
            elements[k] = duplicate(elements[k], &rng, depth: depth + 1)
            return .array(elements)
        default:
            return value
        }
    }
}
