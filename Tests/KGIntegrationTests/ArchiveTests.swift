import Foundation
import XCTest

/// Issue 17: backups that prove their own integrity and keep themselves tidy.
/// Each test drives the real `kg` against a real gateway, worker, PostgreSQL
/// and RabbitMQ, on real files.
final class ArchiveTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func saved(_ result: CommandResult) throws -> String {
        XCTAssertEqual(result.exitCode, 0, result.summary + stack.logs)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `sha256sum -c NAME.sha256` run where the file is.
    private func sha256sumCheck(_ path: String) throws -> CommandResult {
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        return try runCommand(
            "/bin/sh", ["-c", "cd \"$0\" && sha256sum -c \"$1\"", directory, name + ".sha256"],
            environment: ["PATH": "/usr/bin:/bin"])
    }

    /// Integrity digests: every saved backup has `<file>.sha256` that
    /// `sha256sum -c` accepts; verify compares it and reports a changed byte as
    /// damage apart from the format's findings; list-backups shows it and
    /// `--check` reads them all.
    func testEverySavedBackupProvesItsBytes() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 20, dimensions: 4)
        try stack.login()
        let plain = try saved(try stack.kg(["admin", "backup", "--type", "full"]))
        let gzip = try saved(try stack.kg(["admin", "backup", "--type", "full", "--compress", "gzip"]))
        for file in [plain, gzip] {
            let sidecar = try String(contentsOfFile: file + ".sha256", encoding: .utf8)
            XCTAssertNotNil(sidecar.range(of: #"^[0-9a-f]{64}  [^/\n]+\n$"#, options: .regularExpression), sidecar)
            XCTAssertTrue(sidecar.hasSuffix("  " + (file as NSString).lastPathComponent + "\n"), sidecar)
            let check = try sha256sumCheck(file)
            XCTAssertEqual(check.exitCode, 0, check.summary)
            XCTAssertTrue(check.stdout.contains(": OK"), check.summary)
            let verify = try stack.kg(["admin", "verify", file, "--offline"])
            XCTAssertEqual(verify.exitCode, 0, verify.summary)
            XCTAssertTrue(verify.stdout.contains("digest: ok"), verify.stdout)
        }
        let listed = try stack.kg(["admin", "list-backups"])
        XCTAssertEqual(listed.exitCode, 0, listed.summary)
        XCTAssertTrue(listed.stdout.split(separator: "\n")[0].contains("SHA256"), listed.stdout)
        XCTAssertEqual(listed.stdout.split(separator: "\n").dropFirst().filter { $0.contains(" yes ") }.count, 2, listed.stdout)
        XCTAssertFalse(listed.stderr.contains(".sha256"), "sidecars are not listed as non-backups: \(listed.stderr)")
        let checked = try stack.kg(["admin", "list-backups", "--check"])
        XCTAssertEqual(checked.exitCode, 0, checked.summary)
        XCTAssertTrue(checked.stderr.contains("digests: 2 checked, all match"), checked.stderr)

        // Tampering that leaves the format valid: white space added at the end.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: plain))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n\n".utf8))
        try handle.close()
        let tampered = try stack.kg(["admin", "verify", plain, "--offline"])
        XCTAssertEqual(tampered.exitCode, 1, tampered.summary)
        XCTAssertTrue(tampered.stdout.contains("\nvalid\n"), "the format's verdict stands apart: \(tampered.stdout)")
        XCTAssertTrue(tampered.stdout.contains("DAMAGED: the file's bytes are not those it was saved with"), tampered.stdout)
        let json = try stack.kg(["admin", "verify", plain, "--offline", "--json"])
        XCTAssertEqual(json.exitCode, 1, json.summary)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["valid"] as? Bool, true)
        let digest = try XCTUnwrap(object["digest"] as? [String: Any])
        XCTAssertEqual(digest["status"] as? String, "mismatch")
        XCTAssertNotEqual(digest["sha256"] as? String, digest["expected"] as? String)
        XCTAssertNotEqual(try sha256sumCheck(plain).exitCode, 0, "sha256sum agrees it changed")

        // Truncation of the gzip file: a format error and damage, both named.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: gzip))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: gzip))
        let cut = try stack.kg(["admin", "verify", gzip, "--offline"])
        XCTAssertEqual(cut.exitCode, 1, cut.summary)
        XCTAssertTrue(cut.stdout.contains("INVALID"), cut.stdout)
        XCTAssertTrue(cut.stdout.contains("DAMAGED"), cut.stdout)

        let rechecked = try stack.kg(["admin", "list-backups", "--check"])
        XCTAssertEqual(rechecked.exitCode, 1, rechecked.summary)
        XCTAssertEqual(rechecked.stdout.split(separator: "\n").filter { $0.contains(" BAD ") }.count, 2, rechecked.stdout)
        XCTAssertTrue(rechecked.stderr.contains("digests: 2 of 2 do not match"), rechecked.stderr)
        let rows = try XCTUnwrap(
            try JSONSerialization.jsonObject(
                with: Data(try stack.kg(["admin", "list-backups", "--json", "--check"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.compactMap { $0["digest"] as? String }, ["mismatch", "mismatch"])

        // A file without one: verify says so and judges by the format alone.
        try FileManager.default.removeItem(atPath: plain + ".sha256")
        let bare = try stack.kg(["admin", "verify", plain, "--offline"])
        XCTAssertEqual(bare.exitCode, 0, bare.summary)
        XCTAssertTrue(bare.stdout.contains("digest: none"), bare.stdout)
        let plainRow = try XCTUnwrap(
            try JSONSerialization.jsonObject(
                with: Data(try stack.kg(["admin", "list-backups", "--json"]).stdout.utf8)) as? [[String: Any]]
        )
        .first { $0["path"] as? String == plain }
        XCTAssertEqual(plainRow?["digest"] as? String, "absent")
    }

    /// zstd: the worker compresses as it writes (the bytes on the wire are the
    /// file's), every reader knows it by its magic bytes, and the `zstd` tool
    /// agrees both ways.
    func testZstdBackupsRestoreAndTheZstdToolAgrees() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 40, dimensions: 16)
        try stack.login()
        let before = try stack.fingerprint(.content)
        let plain = try saved(try stack.kg(["admin", "backup", "--type", "full"]))
        let backup = try stack.kg(["admin", "backup", "--type", "full", "--compress", "zstd", "--json"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary + stack.logs)
        let outcome = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(backup.stdout.utf8)) as? [String: Any])
        let path = try XCTUnwrap(outcome["path"] as? String)
        XCTAssertTrue(path.hasSuffix(".json.zst"), path)
        let head = try XCTUnwrap(FileHandle(forReadingAtPath: path)).readData(ofLength: 4)
        XCTAssertEqual(Array(head), [0x28, 0xB5, 0x2F, 0xFD], "a zstd frame")
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        let plainSize = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: plain)[.size] as? Int)
        XCTAssertEqual(outcome["bytes"] as? Int, size, "the bytes received are the compressed file's")
        XCTAssertLessThan(size, plainSize / 2, "compressed: \(size) of \(plainSize)")

        // The zstd tool reads it (and its checksum), and it holds what the plain backup holds.
        let decompressed = stack.root + "/decompressed.json"
        let tool = try runCommand("/usr/bin/zstd", ["-d", "-q", path, "-o", decompressed], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(tool.exitCode, 0, tool.summary)
        XCTAssertTrue(NSDictionary(dictionary: try BackupFile(path: decompressed).data).isEqual(to: try BackupFile(path: plain).data))
        let verify = try stack.kg(["admin", "verify", path, "--offline"])
        XCTAssertEqual(verify.exitCode, 0, verify.summary)
        XCTAssertTrue(verify.stdout.contains("digest: ok"), verify.stdout)
        let listed = try stack.kg(["admin", "list-backups", "--json"])
        let row = try XCTUnwrap(
            (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])?
                .first { $0["path"] as? String == path }, listed.summary)
        XCTAssertEqual(row["type"] as? String, "full_backup", "the header is read through zstd")

        // Restores: kg's own zstd file, and one the zstd tool wrote from the plain backup under a plain name.
        let fromTool = stack.root + "/from-the-tool.json"
        let compress = try runCommand("/usr/bin/zstd", ["-q", "-19", plain, "-o", fromTool], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(compress.exitCode, 0, compress.summary)
        for file in [path, fromTool] {
            try stack.wipeGraph()
            let restore = try stack.kg(["admin", "restore", file, "--mode", "replace", "--yes"])
            XCTAssertEqual(restore.exitCode, 0, "\(file): \(restore.summary)\n\(stack.logs)")
            try stack.assertGraph(equals: before, "\(file) restores the graph the backup holds", scope: .content)
        }

        // Damage inside the frame: refused by the checksum, named as zstd.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        let broken = stack.root + "/broken.json.zst"
        try bytes.write(to: URL(fileURLWithPath: broken))
        let bad = try stack.kg(["admin", "verify", broken, "--offline"])
        XCTAssertEqual(bad.exitCode, 1, bad.summary)
        XCTAssertTrue(bad.stdout.contains("zstd"), bad.stdout)
    }

    /// Retention: `kg admin forget` with restic's rules, per type and ontology,
    /// on real backup files (their headers' times), with their sidecars; a dry
    /// run removes nothing; a group's only backup stays.
    func testForgetKeepsByPolicyPerGroupAndTakesTheSidecars() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 10, dimensions: 4)
        try stack.login()
        let full = try saved(try stack.kg(["admin", "backup", "--type", "full"]))
        let ontology = try XCTUnwrap(try stack.db().query("SELECT min(name) AS n FROM kg.ontologies").first("n"))
        let single = try saved(try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", ontology]))
        // Eleven full backups, one a day at 10:00 from 2026-11-20 to 2026-11-30 (their headers say so).
        let text = try String(contentsOfFile: full, encoding: .utf8)
        let stamp = try XCTUnwrap(text.range(of: #""timestamp": ?"[^"]*""#, options: .regularExpression))
        try FileManager.default.removeItem(atPath: full)
        try FileManager.default.removeItem(atPath: full + ".sha256")
        var names: [Int: String] = [:]
        for day in 20...30 {
            let name = "full_backup_202611\(day)_100000.json"
            names[day] = name
            let path = stack.backupDir + "/" + name
            try text.replacingCharacters(in: stamp, with: "\"timestamp\": \"2026-11-\(day)T10:00:00Z\"")
                .write(toFile: path, atomically: true, encoding: .utf8)
            try "0000000000000000000000000000000000000000000000000000000000000000  \(name)\n"
                .write(toFile: path + ".sha256", atomically: true, encoding: .utf8)
        }
        try "not a backup".write(toFile: stack.backupDir + "/notes.json", atomically: true, encoding: .utf8)
        let before = ((try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? []).sorted()

        // Refused: no policy, a bad duration (usage, exit 2, nothing touched).
        let none = try stack.kg(["admin", "forget"])
        XCTAssertEqual(none.exitCode, 2, none.summary)
        XCTAssertTrue(none.stderr.contains("no --keep-* option given"), none.stderr)
        XCTAssertEqual(try stack.kg(["admin", "forget", "--keep-within", "30"]).exitCode, 2)

        let policy = ["--keep-daily", "3", "--keep-weekly", "2"]
        let dry = try stack.kg(["admin", "forget"] + policy + ["--dry-run"])
        XCTAssertEqual(dry.exitCode, 0, dry.summary)
        XCTAssertEqual(((try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? []).sorted(), before, "a dry run removes nothing")
        XCTAssertTrue(dry.stdout.contains("full_backup: 11 backup(s), keep 3, would remove 8"), dry.stdout)
        let keepLine = try XCTUnwrap(dry.stdout.split(separator: "\n").first { $0.contains(names[30]!) })
        XCTAssertTrue(keepLine.contains("keep") && keepLine.contains("daily snapshot, weekly snapshot"), String(keepLine))
        XCTAssertTrue(
            dry.stdout.split(separator: "\n").contains { $0.contains("would remove") && $0.contains(names[27]!) && $0.contains(".sha256") },
            dry.stdout)
        XCTAssertTrue(dry.stderr.contains("nothing was removed (--dry-run)"), dry.stderr)
        XCTAssertTrue(dry.stderr.contains("not a backup, left alone: notes.json"), dry.stderr)

        let run = try stack.kg(["admin", "forget"] + policy + ["--json"])
        XCTAssertEqual(run.exitCode, 0, run.summary)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(object["kept"] as? Int, 4)
        XCTAssertEqual(object["removed"] as? Int, 8)
        XCTAssertEqual(object["dry_run"] as? Bool, false)
        let groups = try XCTUnwrap(object["groups"] as? [[String: Any]])
        let ontologyGroup = try XCTUnwrap(groups.first { $0["type"] as? String == "ontology_backup" })
        XCTAssertEqual(ontologyGroup["ontology"] as? String, ontology)
        XCTAssertEqual((ontologyGroup["keep"] as? [[String: Any]])?.first?["path"] as? String, single, "the only backup of its group stays")
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? [])
        for day in 20...30 {
            let kept = day >= 28
            XCTAssertEqual(after.contains(names[day]!), kept, names[day]!)
            XCTAssertEqual(after.contains(names[day]! + ".sha256"), kept, "its sidecar goes with it: \(names[day]!)")
        }
        XCTAssertTrue(after.contains("notes.json"), "files that are not backups are never touched")
        XCTAssertTrue(FileManager.default.fileExists(atPath: single) && FileManager.default.fileExists(atPath: single + ".sha256"))

        // Again: nothing more to remove.
        let again = try stack.kg(["admin", "forget"] + policy)
        XCTAssertEqual(again.exitCode, 0, again.summary)
        XCTAssertTrue(again.stderr.contains("removed 0 backup(s)"), again.stderr)
    }

    /// age: a backup encrypted on the user's machine as it streams in, that the
    /// `age` tool decrypts; verify, list-backups read it with the identity or the
    /// passphrase; a wrong key or a changed byte is refused; restore refuses it clearly.
    func testAgeEncryptedBackupsReadWithTheirKeyOnly() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 20, dimensions: 4)
        try stack.login()
        let keys = stack.root + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        let env = ["PATH": "/usr/bin:/bin"]
        XCTAssertEqual(try runCommand("/usr/bin/age-keygen", ["-o", keys + "/owner.txt"], environment: env).exitCode, 0)
        XCTAssertEqual(try runCommand("/usr/bin/age-keygen", ["-o", keys + "/other.txt"], environment: env).exitCode, 0)
        let recipient = try runCommand("/usr/bin/age-keygen", ["-y", keys + "/owner.txt"], environment: env).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let plain = try saved(try stack.kg(["admin", "backup", "--type", "full"]))
        let before = try stack.fingerprint(.content)

        let encrypted = try saved(try stack.kg(["admin", "backup", "--type", "full", "--compress", "zstd", "--recipient", recipient]))
        XCTAssertTrue(encrypted.hasSuffix(".json.zst.age"), encrypted)
        let head = try String(decoding: XCTUnwrap(FileHandle(forReadingAtPath: encrypted)).readData(ofLength: 22), as: UTF8.self)
        XCTAssertEqual(head, "age-encryption.org/v1\n")
        XCTAssertEqual(try sha256sumCheck(encrypted).exitCode, 0, "its .sha256 is over the encrypted bytes")
        // The age tool decrypts it (then zstd): the same data as the plain backup.
        let out = stack.root + "/decrypted.json.zst"
        let age = try runCommand("/usr/bin/age", ["-d", "-i", keys + "/owner.txt", "-o", out, encrypted], environment: env)
        XCTAssertEqual(age.exitCode, 0, age.summary)
        XCTAssertTrue(NSDictionary(dictionary: try BackupFile(path: out).data).isEqual(to: try BackupFile(path: plain).data))

        // verify: with the identity; without one, or with another, exit 1 and the reason.
        let ok = try stack.kg(["admin", "verify", encrypted, "--offline", "--identity", keys + "/owner.txt"])
        XCTAssertEqual(ok.exitCode, 0, ok.summary)
        XCTAssertTrue(ok.stdout.contains("\nvalid\n") && ok.stdout.contains("digest: ok"), ok.stdout)
        let noKey = try stack.kg(["admin", "verify", encrypted, "--offline"])
        XCTAssertEqual(noKey.exitCode, 1, noKey.summary)
        XCTAssertTrue(noKey.stderr.contains("is encrypted (age); give the identity"), noKey.stderr)
        let wrong = try stack.kg(["admin", "verify", encrypted, "--offline", "--identity", keys + "/other.txt"])
        XCTAssertEqual(wrong.exitCode, 1, wrong.summary)
        XCTAssertTrue(wrong.stderr.contains("no identity given opens this file"), wrong.stderr)

        // list-backups: the header through the identity (config identity_file), or `age` without it.
        let bare = try stack.kg(["admin", "list-backups"])
        XCTAssertTrue(bare.stdout.split(separator: "\n").contains { $0.hasSuffix(".age") && $0.contains(" age ") }, bare.stdout)
        XCTAssertEqual(try stack.kg(["config", "set", "identity_file", keys + "/owner.txt"]).exitCode, 0)
        let rows = try XCTUnwrap(
            try JSONSerialization.jsonObject(
                with: Data(try stack.kg(["admin", "list-backups", "--json"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(rows.first { $0["path"] as? String == encrypted }?["type"] as? String, "full_backup")

        // A changed byte inside a chunk: damage, named.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: encrypted))
        bytes[bytes.count - 20] ^= 1
        let tampered = stack.root + "/tampered.json.zst.age"
        try bytes.write(to: URL(fileURLWithPath: tampered))
        let damaged = try stack.kg(["admin", "verify", tampered, "--offline"])
        XCTAssertEqual(damaged.exitCode, 1, damaged.summary)
        XCTAssertTrue(damaged.stdout.contains("DAMAGED") && damaged.stdout.contains("does not authenticate"), damaged.stdout)

        // A passphrase, from a file; and a file the age tool encrypted from the plain backup.
        try "correct horse battery\n".write(toFile: keys + "/passphrase", atomically: true, encoding: .utf8)
        let locked = try saved(try stack.kg(["admin", "backup", "--type", "full", "--passphrase-file", keys + "/passphrase"]))
        XCTAssertTrue(locked.hasSuffix(".json.age"), locked)
        XCTAssertEqual(try stack.kg(["admin", "verify", locked, "--offline", "--passphrase-file", keys + "/passphrase"]).exitCode, 0)
        try "wrong\n".write(toFile: keys + "/wrong", atomically: true, encoding: .utf8)
        let badPass = try stack.kg(["admin", "verify", locked, "--offline", "--passphrase-file", keys + "/wrong"])
        XCTAssertEqual(badPass.exitCode, 1, badPass.summary)
        XCTAssertTrue(badPass.stderr.contains("wrong passphrase"), badPass.stderr)
        let fromTool = stack.root + "/from-the-tool.json.age"
        XCTAssertEqual(try runCommand("/usr/bin/age", ["-r", recipient, "-o", fromTool, plain], environment: env).exitCode, 0)
        XCTAssertEqual(try stack.kg(["admin", "verify", fromTool, "--offline"]).exitCode, 0, "kg reads what age wrote")

        // config backup_recipients: every backup is encrypted without a flag (write-only on this machine).
        XCTAssertEqual(try stack.kg(["config", "set", "backup_recipients", recipient]).exitCode, 0)
        let configured = try saved(try stack.kg(["admin", "backup", "--type", "full"]))
        XCTAssertTrue(configured.hasSuffix(".json.age"), configured)
        XCTAssertEqual(
            try runCommand(
                "/usr/bin/age", ["-d", "-i", keys + "/owner.txt", "-o", stack.root + "/c.json", configured],
                environment: env
            ).exitCode, 0)

        // restore: a wrong key is exit 1 before any byte is sent; the right one restores, decrypted as it is sent.
        let jobs = try stack.jobCount()
        let wrongRestore = try stack.kg(["admin", "restore", encrypted, "--yes", "--mode", "replace", "--identity", keys + "/other.txt"])
        XCTAssertEqual(wrongRestore.exitCode, 1, wrongRestore.summary)
        XCTAssertTrue(wrongRestore.stderr.contains("no identity given opens this file"), wrongRestore.stderr)
        XCTAssertEqual(try stack.jobCount(), jobs, "nothing was uploaded")
        let tamperedRestore = try stack.kg(["admin", "restore", tampered, "--yes", "--mode", "replace"])
        XCTAssertEqual(tamperedRestore.exitCode, 1, tamperedRestore.summary)
        XCTAssertTrue(tamperedRestore.stderr.contains("DAMAGED") && tamperedRestore.stderr.contains("Nothing was sent"), tamperedRestore.stderr)
        XCTAssertEqual(try stack.jobCount(), jobs, "nothing was uploaded")
        for (file, key) in [(encrypted, [String]()), (locked, ["--passphrase-file", keys + "/passphrase"])] {
            try stack.wipeGraph()
            let restore = try stack.kg(["admin", "restore", file, "--yes", "--mode", "replace"] + key)
            XCTAssertEqual(restore.exitCode, 0, "\(file): \(restore.summary)\n\(stack.logs)")
            try stack.assertGraph(equals: before, "\(file) restores the graph the backup holds", scope: .content)
        }
    }
}
