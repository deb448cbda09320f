import Foundation
import KGTestSupport
import XCTest

/// What the CLI shows and does is true (issue 20): each test drives the real
/// `kg` against a real gateway and worker.
final class CLITruthTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    private func backupDirEntries() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? []).sorted()
    }

    /// Item 1: Ctrl-C during a backup removes the partial file, cancels the job,
    /// says so in one line and exits 130.
    func testCtrlCDuringABackupRemovesThePartialAndCancelsTheJob() throws {
        stack = try TestStack(environment: ["KG_TEST_RECORD_DELAY_MS": "20"])
        try stack.loadSample(concepts: 80, dimensions: 8)
        try stack.login()
        let cli = try stack.kgInBackground(["admin", "backup", "--type", "full"], name: "cli-backup")
        try stack.waitUntil(30, "the backup's partial file to hold bytes") {
            self.backupDirEntries().contains { name in
                name.hasSuffix(".partial")
                    && ((try? FileManager.default.attributesOfItem(atPath: self.stack.backupDir + "/" + name)[.size] as? Int) ?? 0) > 0
            }
        }
        cli.signal(SIGINT)
        cli.process.waitUntilExit()
        XCTAssertEqual(cli.process.terminationStatus, 130, cli.log)
        let lines = cli.log.split(separator: "\n").filter { $0.hasPrefix("kg:") }
        XCTAssertEqual(lines.count, 1, cli.log)
        XCTAssertTrue(cli.log.contains("backup interrupted; the partial file was removed and nothing was saved"), cli.log)
        XCTAssertTrue(cli.log.contains("was cancelled"), cli.log)
        XCTAssertEqual(backupDirEntries(), [], "nothing left in backup_dir")
        try stack.waitUntil(30, "the backup job to end") {
            try self.stack.db().query("SELECT status FROM kg_api.jobs WHERE job_type = 'backup'").first("status") == "cancelled"
        }

        // What the user sees: the progress line, then one line, at the terminal (Ctrl-C after two seconds).
        let screen = try stack.kgInTerminal(["admin", "backup", "--type", "full"], prefix: ["timeout", "--preserve-status", "-s", "INT", "2"])
        XCTAssertEqual(screen.exitCode, 130, screen.text)
        XCTAssertEqual(
            screen.frames.last?.hasPrefix("kg: backup interrupted; the partial file was removed and nothing was saved; job "), true,
            screen.text)
        XCTAssertEqual(screen.frames.filter { $0.hasPrefix("kg:") }.count, 1, screen.text)
        XCTAssertEqual(backupDirEntries(), [], "nothing left in backup_dir")
    }

    /// Item 4: `--output` names one file: an existing one is refused unless
    /// `--force` (no `-2` copy beside it), and a missing folder is named as such.
    func testOutputNeverWritesSomewhereElse() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 20, dimensions: 4)
        try stack.login()
        let folder = stack.cliHome + "/out"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let precious = folder + "/precious.json"
        try Data("old".utf8).write(to: URL(fileURLWithPath: precious))

        let refused = try stack.kg(["admin", "backup", "--type", "full", "--output", precious])
        XCTAssertEqual(refused.exitCode, 1, refused.summary)
        XCTAssertTrue(refused.stderr.contains("\(precious) already exists"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("--force"), refused.stderr)
        XCTAssertEqual(try String(contentsOfFile: precious, encoding: .utf8), "old")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["precious.json"])
        XCTAssertEqual(try stack.jobCount(), 0, "refused before anything was sent")

        let forced = try stack.kg(["admin", "backup", "--type", "full", "--output", precious, "--force"])
        XCTAssertEqual(forced.exitCode, 0, forced.summary)
        XCTAssertEqual(forced.stdout.trimmingCharacters(in: .whitespacesAndNewlines), precious)
        XCTAssertTrue(try String(contentsOfFile: precious, encoding: .utf8).contains("\"concepts\""))
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: folder).sorted(), ["precious.json", "precious.json.sha256"],
            "the file and its digest (issue 17), nothing else")

        let missing = try stack.kg(["admin", "backup", "--type", "full", "--output", folder + "/nope/x.json"])
        XCTAssertEqual(missing.exitCode, 1, missing.summary)
        XCTAssertTrue(missing.stderr.contains("the folder \(folder)/nope does not exist"), missing.stderr)
        XCTAssertFalse(missing.stderr.contains(".partial"), missing.stderr)
    }

    /// Item 3: job ids are checked before they reach a URL (usage error, exit 2);
    /// a unique prefix names its job; an ambiguous or unknown one says so.
    func testJobIdsAreCheckedAndPrefixesResolve() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 10, dimensions: 4)
        try stack.login()
        XCTAssertEqual(try stack.kg(["admin", "backup", "--type", "full"]).exitCode, 0)
        XCTAssertEqual(try stack.kg(["admin", "backup", "--type", "full"]).exitCode, 0)
        let ids = try stack.db().query("SELECT job_id::text AS id FROM kg_api.jobs ORDER BY created_at").records.compactMap { $0["id"] ?? nil }
        XCTAssertEqual(ids.count, 2)

        for bad in ["", "../admin/checkpoints", "not-a-uuid", "ab"] {
            let result = try stack.kg(["job", "status", bad])
            XCTAssertEqual(result.exitCode, 2, "\(bad): \(result.summary)")
            XCTAssertTrue(result.stderr.contains("kg job list") || result.stderr.contains("too short"), result.stderr)
            XCTAssertFalse(result.stderr.contains("api_url"), result.stderr)
        }
        let watchEmpty = try stack.kg(["job", "watch", ""])
        XCTAssertEqual(watchEmpty.exitCode, 2, watchEmpty.summary)

        // Give the two jobs ids that share a start, so that prefixes are tested deterministically.
        let first = "aaaa1111-0000-4000-8000-000000000001"
        let second = "aaaa2222-0000-4000-8000-000000000002"
        _ = try stack.db().query("UPDATE kg_api.jobs SET job_id = $1::uuid WHERE job_id = $2::uuid", [first, ids[0]])
        _ = try stack.db().query("UPDATE kg_api.jobs SET job_id = $1::uuid WHERE job_id = $2::uuid", [second, ids[1]])

        // A pasted id with spaces around it, and a unique prefix, name the job.
        let padded = try stack.kg(["job", "status", " " + first + " ", "--json"])
        XCTAssertEqual(padded.exitCode, 0, padded.summary)
        XCTAssertTrue(padded.stdout.contains(first), padded.stdout)
        let short = try stack.kg(["job", "status", "AAAA1", "--json"])
        XCTAssertEqual(short.exitCode, 0, short.summary)
        XCTAssertTrue(short.stdout.contains(first), short.stdout)
        let ambiguous = try stack.kg(["job", "status", "aaaa"])
        XCTAssertEqual(ambiguous.exitCode, 2, ambiguous.summary)
        XCTAssertTrue(ambiguous.stderr.contains("names 2 jobs"), ambiguous.stderr)
        let none = try stack.kg(["job", "cancel", "bbbb"])
        XCTAssertEqual(none.exitCode, 1, none.summary)
        XCTAssertTrue(none.stderr.contains("no job of yours starts with bbbb"), none.stderr)

        // The gateway refuses a prefix that is not one (LIKE wildcards included).
        let token = try stack.token()
        let raw = try runCommand(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)",
                stack.apiURL + "/jobs?id_prefix=%25",
            ], environment: [:])
        XCTAssertEqual(raw.stdout, "400")
    }

    /// Item 6: a mistyped subcommand is named, with the nearest command (exit 2).
    func testTyposInSubcommandsAreNamedWithTheNearestCommand() throws {
        stack = try TestStack(workers: 0)
        let cases: [([String], String)] = [
            (["admin", "bakup", "--type", "full"], "unknown command \"bakup\" for \"kg admin\"; did you mean \"backup\"?"),
            (["admn", "backup"], "unknown command \"admn\" for \"kg\"; did you mean \"admin\"?"),
            (["job", "stauts", "x"], "did you mean \"status\"?"),
            (["admin", "checkpoints", "dowload", "x"], "did you mean \"download\"?"),
        ]
        for (arguments, expected) in cases {
            let result = try stack.kg(arguments)
            XCTAssertEqual(result.exitCode, 2, result.summary)
            XCTAssertTrue(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
        }
        let far = try stack.kg(["admin", "xyzzy"])
        XCTAssertEqual(far.exitCode, 2, far.summary)
        XCTAssertFalse(far.stderr.contains("did you mean"), far.stderr)
        XCTAssertTrue(far.stderr.contains("`kg admin --help` lists the commands"), far.stderr)
    }

    /// Item 9: settings show their effective value and origin, global options
    /// work before the subcommand, paths are stored absolute.
    func testSettingsSayWhatIsUsedAndWhereItComesFrom() throws {
        stack = try TestStack(workers: 0)
        try stack.login()
        let elsewhere = "http://127.0.0.1:9"
        let list = try stack.kg(["config", "list"], extra: ["KG_API_URL": elsewhere])
        XCTAssertEqual(list.exitCode, 0, list.summary)
        let apiLine = list.stdout.split(separator: "\n").first { $0.hasPrefix("api_url") }.map(String.init) ?? ""
        XCTAssertTrue(apiLine.contains(elsewhere) && apiLine.contains("environment:KG_API_URL"), list.stdout)
        XCTAssertFalse(list.stdout.contains("(default)"), list.stdout)
        XCTAssertFalse(list.stdout.contains(try stack.token()), "the token is never printed")

        let json = try stack.kg(["config", "list", "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        let settings = try XCTUnwrap(object["settings"] as? [[String: Any]])
        XCTAssertEqual(settings.map { $0["key"] as? String }, ["api_url", "backup_dir", "cacert", "username", "token", "token_server"])
        XCTAssertEqual(settings[0]["value"] as? String, stack.apiURL)
        XCTAssertEqual(settings[3]["origin"] as? String, "config:\(stack.cliHome)/config/kg/config.json")
        XCTAssertTrue(settings[2]["value"] is NSNull, "an unset value is null, not prose: \(json.stdout)")
        XCTAssertEqual(settings[4]["value"] as? String, "set")
        // The keys come in one order on every run.
        XCTAssertEqual(try stack.kg(["config", "list", "--json"]).stdout, json.stdout)

        // Global options before the subcommand.
        let before = try stack.kg(["--server", stack.apiURL, "job", "list"])
        XCTAssertEqual(before.exitCode, 0, before.summary)

        // A relative backup_dir is stored absolute (the CLI runs in the test's working directory).
        let set = try stack.kg(["config", "set", "backup_dir", "relative/backups"])
        XCTAssertEqual(set.exitCode, 0, set.summary)
        let stored = try stack.kg(["config", "get", "backup_dir"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(stored.hasPrefix("/") && stored.hasSuffix("/relative/backups"), stored)
        XCTAssertTrue(try stack.kg(["config", "set", "--help"]).stdout.contains("cacert"))
    }

    /// Item 8: a restore asks the server about the credentials before it reads
    /// the file: a bad token or an unreachable server is known at once, even for
    /// a file that would take long to check (here: one that is not even valid).
    func testARestoreChecksTheServerAndCredentialsBeforeTheFile() throws {
        stack = try TestStack(workers: 0)
        try stack.login()
        let file = stack.cliHome + "/broken.json"
        try Data("{\"metadata\": not json".utf8).write(to: URL(fileURLWithPath: file))

        let badToken = try stack.kg(["admin", "restore", file, "--yes", "--token", "kg_invalid"])
        XCTAssertEqual(badToken.exitCode, 4, badToken.summary)
        XCTAssertFalse(badToken.stderr.contains("not a valid backup"), "the file was not read first: \(badToken.stderr)")
        XCTAssertEqual(badToken.stderr.components(separatedBy: "kg login").count - 1, 1, "the advice once: \(badToken.stderr)")

        let unreachable = try stack.kg(["admin", "restore", file, "--yes", "--server", "http://127.0.0.1:\(freePort())", "--token", "kg_any"])
        XCTAssertEqual(unreachable.exitCode, 3, unreachable.summary)

        try stack.addUser("reader1", role: "reader", password: "reader-password-1")
        try stack.login("reader1", password: "reader-password-1")
        let reader = try stack.kg(["admin", "restore", file, "--yes"])
        XCTAssertEqual(reader.exitCode, 4, reader.summary)
        XCTAssertTrue(reader.stderr.contains("needs the admin role; you are logged in as reader1 (reader)"), reader.stderr)
        XCTAssertEqual(try stack.jobCount(), 0)
    }

    /// Item 5: `--json` has one shape per object, its keys in one order, no prose in values.
    func testJSONOutputHasOneShape() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 10, dimensions: 4)
        try stack.login()
        let backup = try stack.kg(["admin", "backup", "--type", "full", "--json"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary)
        let saved = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(Set(saved.keys), ["path", "bytes", "seconds", "job_id", "statistics", "resumed_from"], "resumed_from: issue 18")
        let jobID = try XCTUnwrap(saved["job_id"] as? String)

        // `job watch --json` prints what `job status --json` prints, the same text on every run, `error` included.
        let status = try stack.kg(["job", "status", jobID, "--json"]).stdout
        for _ in 0..<3 {
            XCTAssertEqual(try stack.kg(["job", "watch", jobID, "--json"]).stdout, status)
        }
        let job = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any])
        XCTAssertTrue(job.keys.contains("error"), status)

        // A restore refused for an invalid file prints the restore's shape, not a verify report.
        let file = stack.cliHome + "/invalid.json"
        try Data("{\"metadata\":{\"version\":\"1.0\",\"type\":\"full_backup\"},\"data\":{\"concepts\":[{\"label\":\"x\"}]}}".utf8)
            .write(to: URL(fileURLWithPath: file))
        let refused = try stack.kg(["admin", "restore", file, "--yes", "--json"])
        XCTAssertEqual(refused.exitCode, 1, refused.summary)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any], refused.stdout)
        XCTAssertEqual(Set(object.keys), ["job_id", "status", "result", "error", "integrity"], refused.stdout)
        XCTAssertEqual(object["status"] as? String, "refused")
        XCTAssertTrue(object["job_id"] is NSNull)
        XCTAssertEqual((object["integrity"] as? [String: Any])?["valid"] as? Bool, false, refused.stdout)
    }

    /// Item 2 (terminal capture): the backup's bar is bytes received of the
    /// file's size once that is known, never the worker's share of records;
    /// before, the line says the size is not known yet and draws no bar.
    func testTheBackupBarIsBytesOfTheTotal() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 1500, dimensions: 256)
        try stack.login()
        // A slow line (libcurl lets the first few MB through at full speed, then 1 MiB/s) so that the user
        // watches most of the download after the worker is done.
        let capture = try stack.kgInTerminal(["admin", "backup", "--type", "full", "--limit-download", "1024"])
        XCTAssertEqual(capture.exitCode, 0, capture.text)
        let progress = capture.frames.filter { $0.hasPrefix("backup ") && !$0.hasPrefix("backup complete") }
        XCTAssertFalse(progress.isEmpty, capture.text)
        func bytes(_ text: Substring) -> Double? {
            let parts = text.split(separator: " ")
            guard parts.count == 2, let value = Double(parts[0]) else { return nil }
            let scale: [Substring: Double] = ["B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9]
            return scale[parts[1]].map { value * $0 }
        }
        var midway = 0
        for frame in progress {
            guard frame.contains("[") else {
                XCTAssertTrue(frame.contains("size not known yet") || frame.contains("waiting"), frame)
                XCTAssertFalse(frame.contains("%]"), frame)
                continue
            }
            // "backup  48.2%  [####----]  45.6 MB / 94.6 MB  12.0 MB/s  ETA 0:04"
            let fields = frame.components(separatedBy: "  ").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let percentText = try XCTUnwrap(fields.first { $0.hasSuffix("%") }, frame)
            let percent = try XCTUnwrap(Double(percentText.dropLast()), frame)
            let ofTotal = try XCTUnwrap(fields.first { $0.contains(" / ") }, "bytes of the total: \(frame)")
            let sides = ofTotal.components(separatedBy: " / ")
            let received = try XCTUnwrap(bytes(Substring(sides[0])), frame)
            let total = try XCTUnwrap(bytes(Substring(sides[1])), frame)
            XCTAssertEqual(percent, min(100, received / total * 100), accuracy: 3, frame)
            if percent >= 100 { XCTAssertEqual(sides[0], sides[1], frame) }
            if percent < 90 { midway += 1 }
        }
        XCTAssertGreaterThan(midway, 0, "the bar was seen mid-transfer: \(capture.text.prefix(3000))")
    }

    /// Item 7: ontologies can be listed with counts; a wrong-case or mistyped
    /// name gets the near match; a non-ASCII ontology's backup keeps its name.
    func testOntologiesAreListedNamedAndKeptInFileNames() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 30, dimensions: 4)
        let db = try stack.db()
        _ = try db.query("INSERT INTO kg.ontologies (name) VALUES ($1)", ["Философия сознания"])
        _ = try db.query("INSERT INTO kg.sources (source_id, document, full_text) VALUES ('ru-1', $1, 'текст')", ["Философия сознания"])
        try stack.login()

        let list = try stack.kg(["ontology", "list"])
        XCTAssertEqual(list.exitCode, 0, list.summary)
        let expected = try db.query(
            """
            SELECT o.name, count(DISTINCT s.source_id) AS sources FROM kg.ontologies o
            LEFT JOIN kg.sources s ON s.document = o.name GROUP BY o.name ORDER BY o.name
            """
        ).records
        XCTAssertGreaterThan(expected.count, 1)
        for row in expected {
            let name = try XCTUnwrap(row["name"] ?? nil)
            let line = list.stdout.split(separator: "\n").first { $0.hasSuffix(name) }.map(String.init)
            XCTAssertNotNil(line, "\(name) listed: \(list.stdout)")
            XCTAssertEqual(line?.split(separator: " ").first.map(String.init), row["sources"] ?? nil, "\(name): \(list.stdout)")
        }
        let json = try stack.kg(["ontology", "list", "--json"])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((object["ontologies"] as? [[String: Any]])?.count, expected.count)

        // A name in the wrong case, or with a typo: the near match, and how to list them.
        let philosophy = try XCTUnwrap(expected.compactMap { $0["name"] ?? nil }.first { $0.hasPrefix("Philosophy") })
        for typed in [philosophy.lowercased(), String(philosophy.dropLast())] {
            let wrong = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", typed])
            XCTAssertEqual(wrong.exitCode, 1, wrong.summary)
            XCTAssertTrue(wrong.stderr.contains("did you mean \"\(philosophy)\"?"), wrong.stderr)
        }

        // The backup of a non-ASCII ontology keeps its name in the file name.
        let saved = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", "Философия сознания"])
        XCTAssertEqual(saved.exitCode, 0, saved.summary)
        let name = (saved.stdout.trimmingCharacters(in: .whitespacesAndNewlines) as NSString).lastPathComponent
        XCTAssertTrue(name.hasPrefix("Философия_сознания_backup_"), name)
    }

    /// Item 7 (listing): `list-backups` describes each file by its header, leaves
    /// out what is not a backup, and says when a plain file was cut short.
    func testListBackupsReadsEachFilesHeader() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 20, dimensions: 4)
        try stack.login()
        XCTAssertEqual(try stack.kg(["admin", "backup", "--type", "full"]).exitCode, 0)
        Thread.sleep(forTimeInterval: 1.1)
        let ontology = try XCTUnwrap(try stack.db().query("SELECT min(name) AS n FROM kg.ontologies").first("n"))
        XCTAssertEqual(try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", ontology, "--compress", "gzip"]).exitCode, 0)
        // Not backups: an empty file, a JSON file of something else; a backup cut short.
        FileManager.default.createFile(atPath: stack.backupDir + "/empty.json", contents: Data())
        FileManager.default.createFile(atPath: stack.backupDir + "/settings.json", contents: Data("{\"theme\": \"dark\"}".utf8))
        let full = try XCTUnwrap(
            try FileManager.default.contentsOfDirectory(atPath: stack.backupDir).first { $0.hasPrefix("full_backup_") && $0.hasSuffix(".json") })
        let bytes = try Data(contentsOf: URL(fileURLWithPath: stack.backupDir + "/" + full))
        FileManager.default.createFile(atPath: stack.backupDir + "/cut.json", contents: bytes.prefix(bytes.count / 2))

        let list = try stack.kg(["admin", "list-backups"])
        XCTAssertEqual(list.exitCode, 0, list.summary)
        XCTAssertTrue(list.stderr.contains("not a backup, left out: empty.json (empty)"), list.stderr)
        XCTAssertTrue(list.stderr.contains("not a backup, left out: settings.json"), list.stderr)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("SAVED (UTC)"), list.stdout)
        XCTAssertEqual(lines.count, 4, "three backups under the header: \(list.stdout)")
        let fullLine = try XCTUnwrap(lines.first { $0.hasSuffix(full) })
        XCTAssertTrue(fullLine.contains(" full ") && fullLine.contains(" yes "), fullLine)
        let cutLine = try XCTUnwrap(lines.first { $0.hasSuffix("cut.json") })
        XCTAssertTrue(cutLine.contains(" no "), cutLine)
        let ontologyLine = try XCTUnwrap(lines.first { $0.hasSuffix(".json.gz") })
        XCTAssertTrue(ontologyLine.contains(" ontology ") && ontologyLine.contains(ontology), ontologyLine)

        let json = try stack.kg(["admin", "list-backups", "--json"])
        let rows = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.count, 3)
        let gz = try XCTUnwrap(rows.first { ($0["name"] as? String)?.hasSuffix(".gz") == true })
        XCTAssertEqual(gz["type"] as? String, "ontology_backup")
        XCTAssertEqual(gz["ontology"] as? String, ontology)
        XCTAssertTrue(gz["whole"] is NSNull)
        XCTAssertNotNil(gz["schema_version"] as? Int)
    }

    /// Item 10: small untruths. A missing file is named as missing (no advice to
    /// download it again); a replace shows its checkpoint stage as skipped, with
    /// the reason; a dry-run merge names instances and relationships too.
    func testSmallUntruthsAreGone() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 20, dimensions: 4)
        try stack.login()
        let missing = try stack.kg(["admin", "verify", "nope.json"])
        XCTAssertEqual(missing.exitCode, 1, missing.summary)
        XCTAssertTrue(missing.stderr.contains("no such file: \(stack.backupDir)/nope.json"), missing.stderr)
        XCTAssertFalse((missing.stdout + missing.stderr).contains("download it again"), missing.summary)

        let saved = try stack.kg(["admin", "backup", "--type", "full"])
        let file = saved.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let dry = try stack.kg(["admin", "restore", file, "--dry-run", "--mode", "merge"])
        XCTAssertEqual(dry.exitCode, 0, dry.summary)
        XCTAssertTrue(dry.stderr.contains("would add 0 concepts, 0 sources, 0 instances, 0 relationships"), dry.stderr)

        let replace = try stack.kgInTerminal(["admin", "restore", file, "--mode", "replace", "--yes"])
        XCTAssertEqual(replace.exitCode, 0, replace.text)
        let board = replace.frames.filter { $0.contains("Creating a checkpoint") }
        XCTAssertFalse(board.isEmpty, replace.text)
        XCTAssertFalse(board.contains { $0.hasPrefix("✓") }, "never ✓ for a checkpoint not made: \(board)")
        XCTAssertTrue(board.contains { $0.hasPrefix("– Creating a checkpoint") && $0.contains("skipped: a replace needs none") }, "\(board)")
        XCTAssertEqual(try stack.db().query("SELECT count(*) AS n FROM kg_api.checkpoints").first("n"), "0")
    }

    /// Item 10 (help): every command's help has an EXAMPLES section of real
    /// command lines. The commands are found by walking `--help` itself, so a new
    /// command without examples fails here.
    func testEveryCommandsHelpHasExamples() throws {
        stack = try TestStack(workers: 0)
        var pending: [[String]] = [[]]
        var leaves = 0
        while let path = pending.popLast() {
            let help = try stack.kg(path + ["--help"])
            XCTAssertEqual(help.exitCode, 0, "\(path): \(help.summary)")
            let lines = help.stdout.components(separatedBy: "\n")
            if let start = lines.firstIndex(of: "SUBCOMMANDS:") {
                for line in lines[(start + 1)...] {
                    if line.isEmpty || line.hasPrefix("   ") { continue }  // a wrapped description
                    if line.hasPrefix("  See '") { break }
                    guard line.hasPrefix("  "), let name = line.split(separator: " ").first else { break }
                    if name != "help" { pending.append(path + [String(name)]) }
                }
                continue
            }
            leaves += 1
            let start = try XCTUnwrap(lines.firstIndex(of: "EXAMPLES:"), "kg \(path.joined(separator: " ")) --help has no EXAMPLES")
            let examples = lines[(start + 1)...].prefix { $0.hasPrefix("  ") }
            XCTAssertFalse(examples.isEmpty, "\(path)")
            for example in examples {
                XCTAssertTrue(example.hasPrefix("  kg " + path.joined(separator: " ")), "kg \(path): \(example)")
            }
        }
        XCTAssertGreaterThan(leaves, 20, "the walk found the commands")
    }

    /// Item 10 (terminal capture): `kg admin verify` and the restore's local
    /// check show how far they are on a large file instead of seconds of silence.
    func testLocalChecksShowTheirProgress() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 1500, dimensions: 256)
        try stack.login()
        let saved = try stack.kg(["admin", "backup", "--type", "full"])
        let file = saved.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        XCTAssertGreaterThan(size, 5_000_000)
        // A restore with --dry-run (or --yes) checks on the upload's own read: its line says so.
        for (arguments, label) in [(["admin", "verify", file], "checking "), (["admin", "restore", file, "--dry-run"], "upload+check ")] {
            let capture = try stack.kgInTerminal(arguments)
            XCTAssertEqual(capture.exitCode, 0, capture.text)
            let checking = capture.frames.filter { $0.hasPrefix(label) && $0.contains("%") }
            XCTAssertFalse(checking.isEmpty, "\(arguments): \(capture.text.prefix(2000))")
            for frame in checking {
                XCTAssertTrue(frame.contains(" / \(String(format: "%.1f MB", Double(size) / 1e6))"), frame)
            }
        }
    }
}
