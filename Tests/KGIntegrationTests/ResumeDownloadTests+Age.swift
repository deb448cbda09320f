import Foundation
import KGTestSupport
import XCTest

/// Issue 18's last gap: an age-encrypted download continued by a second command. The partial
/// file keeps the header and whole chunks, its `.resume` sidecar the file key (mode 0600) until
/// the backup completes; the result is a standard age file, and a changed partial file is refused.
extension ResumeDownloadTests {
    /// The CLI through the proxy, cut once after `cutAfter` bytes with `--retries 0`: the command
    /// gives up at once and keeps the encrypted partial file with its key. Returns the partial file.
    private func cutEncryptedBackup(_ args: [String], cutAfter: Int, env: [String: String], label: String) throws -> String {
        let proxy = try XCTUnwrap(self.proxy)
        proxy.cutOnce(afterBytes: cutAfter, toClient: true)
        let cut = try stack.kg(["admin", "backup", "--type", "full", "--json", "--retries", "0"] + args, extra: env)
        proxy.cutOnce(afterBytes: Int.max / 2, toClient: true)
        XCTAssertNotEqual(cut.exitCode, 0, "\(label): the cut ends the command: \(cut.summary)")
        XCTAssertTrue(cut.stderr.contains("continue with `kg admin backup --resume`"), "\(label): \(cut.stderr)")
        XCTAssertTrue(cut.stderr.contains("file key"), "\(label): says where the key waits: \(cut.stderr)")
        let kept = partials()
        XCTAssertEqual(kept.count, 2, "\(label): the partial file and its sidecar: \(stack.backupDirFiles())")
        let partial = stack.backupDir + "/" + (try XCTUnwrap(kept.first { $0.hasSuffix(".partial") }, "\(label): \(cut.summary)"))
        let sidecar = partial + ".resume"
        let mode = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: sidecar)[.posixPermissions] as? Int)
        XCTAssertEqual(mode, 0o600, "\(label): the key file is for its owner only")
        XCTAssertTrue(try String(contentsOfFile: sidecar, encoding: .utf8).contains("\"age_file_key\""), label)
        let head = try XCTUnwrap(FileHandle(forReadingAtPath: partial)).readData(ofLength: 22)
        XCTAssertEqual(String(decoding: head, as: UTF8.self), "age-encryption.org/v1\n", "\(label): the partial file is encrypted")
        return partial
    }

    /// A recipient backup and a zstd + passphrase backup, each cut by the proxy and finished by a
    /// second `kg admin backup --resume` (no key option: the kept key continues it): the file is
    /// whole (`sha256sum -c`, `kg admin verify`), Debian's `age` decrypts it, the decrypted file
    /// and the encrypted one restore the graph exactly, and the key file is gone. The recipient
    /// case first loses some bytes of its partial file (a crash mid-write): it is cut back to
    /// its last whole chunk and continued from there.
    func testAnEncryptedDownloadContinuesInASecondCommand() throws {
        stack = try makeStack(recordDelayMs: 1)
        try stack.loadSample(concepts: 120, ontologies: 2, dimensions: 256)
        try stack.login()
        let env = try throughProxy(try stack.token())
        let proxy = try XCTUnwrap(self.proxy)
        let (identity, recipient) = try stack.ageKeyPair()
        let passphrase = "a passphrase for a resumed backup"
        let passphraseFile = stack.root + "/keys/passphrase"
        try (passphrase + "\n").write(toFile: passphraseFile, atomically: true, encoding: .utf8)
        let before = try stack.fingerprint(.content)
        let tool = ["PATH": "/usr/bin:/bin"]

        let cases: [(name: String, args: [String], read: [String], suffix: String, shorten: Int)] = [
            ("recipient", ["--recipient", recipient], ["--identity", identity], ".json.age", 1000),
            (
                "zstd+passphrase", ["--compress", "zstd", "--passphrase-file", passphraseFile], ["--passphrase-file", passphraseFile],
                ".json.zst.age", 0
            ),
        ]
        for c in cases {
            // How many bytes this backup puts on the wire, to cut it in the middle.
            let probe = try stack.kg(["admin", "backup", "--type", "full", "--json"] + c.args, extra: env)
            XCTAssertEqual(probe.exitCode, 0, "\(c.name): \(probe.summary)")
            let size = try XCTUnwrap(jsonObject(probe.stdout)["bytes"] as? Int, probe.summary)
            XCTAssertGreaterThan(size, 4 * 65_536, "\(c.name): big enough for whole chunks before the cut")
            for name in stack.backupDirFiles() { try FileManager.default.removeItem(atPath: stack.backupDir + "/" + name) }

            let partial = try cutEncryptedBackup(c.args, cutAfter: size / 2, env: env, label: c.name)
            var length = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int)
            if c.shorten > 0 {
                XCTAssertEqual(truncate(partial, off_t(length - c.shorten)), 0)
                length -= c.shorten
            }
            let start = proxy.bytesForwarded.toClient
            let path = try resumeAndCheck(before, "\(c.name): --resume", env: env, read: c.read)
            let carried = proxy.bytesForwarded.toClient - start
            print(
                "ResumeDownloadTests: \(c.name): a \(length)-byte encrypted partial file, \(size) bytes of backup, \(carried) bytes carried by the --resume"
            )
            XCTAssertTrue(path.hasSuffix(c.suffix), "\(c.name): \(path)")
            XCTAssertEqual(stack.backupDirFiles().filter { $0.hasSuffix(".resume") }, [], "\(c.name): the key file is gone")
            XCTAssertLessThan(carried, size - size / 4, "\(c.name): the second command fetched the rest, not the whole file")

            // Debian's age decrypts it; what it gives restores the same graph.
            let opened = stack.root + "/opened-\(c.name)" + (c.suffix.hasPrefix(".json.zst") ? ".json.zst" : ".json")
            let decrypt =
                c.read.first == "--identity"
                ? try runCommand("/usr/bin/age", ["-d", "-i", identity, "-o", opened, path], environment: tool)
                : try runCommand(
                    "/usr/bin/script", ["-qec", "age -d -o '\(opened)' '\(path)'", "/dev/null"], environment: tool,
                    input: passphrase + "\n", timeout: 60)
            XCTAssertEqual(decrypt.exitCode, 0, "\(c.name): age -d: \(decrypt.summary)")
            try stack.wipeGraph()
            let restore = try stack.kg(["admin", "restore", opened, "--yes", "--mode", "replace"])
            XCTAssertEqual(restore.exitCode, 0, "\(c.name): \(restore.summary)")
            try stack.assertGraph(equals: before, "\(c.name): what age decrypted restores the graph", scope: .content)
            for name in stack.backupDirFiles() { try FileManager.default.removeItem(atPath: stack.backupDir + "/" + name) }
        }
    }

    /// A partial file changed after the cut (one byte of a whole chunk) is refused by `--resume`
    /// with the reason, before any byte is fetched; it is removed with its key.
    func testATamperedEncryptedPartialIsRefused() throws {
        stack = try makeStack(recordDelayMs: 1)
        try stack.loadSample(concepts: 120, ontologies: 2, dimensions: 256)
        try stack.login()
        let env = try throughProxy(try stack.token())
        let (_, recipient) = try stack.ageKeyPair()
        let partial = try cutEncryptedBackup(["--recipient", recipient], cutAfter: 250_000, env: env, label: "tampered")
        let handle = try XCTUnwrap(FileHandle(forUpdatingAtPath: partial))
        let length = handle.seekToEndOfFile()
        XCTAssertGreaterThan(length, 2 * 65_552, "whole chunks were kept")
        handle.seek(toFileOffset: length - 100)
        let byte = handle.readData(ofLength: 1)
        handle.seek(toFileOffset: length - 100)
        handle.write(Data([byte[0] ^ 0x01]))
        handle.closeFile()

        let resumed = try stack.kg(["admin", "backup", "--resume"], extra: env)
        XCTAssertEqual(resumed.exitCode, 1, resumed.summary)
        XCTAssertTrue(resumed.stderr.contains("cannot be continued"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("does not authenticate"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("take a new backup"), resumed.stderr)
        XCTAssertEqual(stack.backupDirFiles(), [], "the changed partial file and its key are removed; nothing saved")
    }

    /// The key's lifetime is the partial file's: once the window has passed since the
    /// interruption, the next `kg admin backup` removes the encrypted partial file and its key.
    func testAnExpiredEncryptedPartialLosesItsKeyAtTheNextBackup() throws {
        stack = try makeStack(recordDelayMs: 1)
        try stack.loadSample(concepts: 120, ontologies: 2, dimensions: 256)
        try stack.login()
        let env = try throughProxy(try stack.token())
        let (_, recipient) = try stack.ageKeyPair()
        let partial = try cutEncryptedBackup(["--recipient", recipient], cutAfter: 250_000, env: env, label: "expired")
        let sidecar = partial + ".resume"
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sidecar))) as? [String: Any])
        XCTAssertEqual(object["window_s"] as? Int, 3600)
        // Interrupted two hours ago: the gateway's window (1 h) has passed.
        object["interrupted_at"] = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-7200))
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: sidecar))

        let next = try stack.kg(["admin", "backup", "--type", "full"], extra: env)
        XCTAssertEqual(next.exitCode, 0, next.summary)
        XCTAssertTrue(next.stderr.contains("removed \(partial) and its kept file key"), next.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: partial), "the encrypted partial file is gone")
        XCTAssertFalse(FileManager.default.fileExists(atPath: sidecar), "its key is gone")
        XCTAssertEqual(partials(), [], "nothing of it left")
    }

    /// Ctrl-C during an encrypted download keeps it (the job goes on) with its key, and
    /// `--resume` continues it without a key option to a whole file its identity opens.
    func testCtrlCKeepsAnEncryptedDownloadForResume() throws {
        stack = try makeStack(recordDelayMs: 10)
        try stack.loadSample(concepts: 80, dimensions: 64)
        try stack.login()
        let before = try stack.fingerprint(.content)
        let (identity, recipient) = try stack.ageKeyPair()
        let cli = try startBackup(["--recipient", recipient], name: "cli-ctrl-c-age")
        try waitForPartialBytes(3 * 65_552)
        cli.signal(SIGINT)
        cli.process.waitUntilExit()
        XCTAssertEqual(cli.process.terminationStatus, 130, cli.log)
        XCTAssertTrue(cli.log.contains("continue with `kg admin backup --resume`") && cli.log.contains("file key"), cli.log)
        XCTAssertEqual(partials().count, 2, "the partial file and its key: \(stack.backupDirFiles())")
        let path = try resumeAndCheck(before, "Ctrl-C then --resume, encrypted", read: ["--identity", identity])
        XCTAssertTrue(path.hasSuffix(".json.age"), path)
    }
}
