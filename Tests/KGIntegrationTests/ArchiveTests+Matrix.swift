import Foundation
import XCTest

extension ArchiveTests {
    /// Every combination of compression (none, gzip, zstd) and encryption (none,
    /// an age recipient, an age passphrase) restores the graph the backup holds;
    /// and a passphrase file crosses the `age` tool both ways (the tool reads a
    /// passphrase only from a terminal: `script(1)` gives it one).
    func testEveryCompressionAndEncryptionRoundTrips() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 16, dimensions: 4)
        try stack.login()
        let (identity, recipient) = try stack.ageKeyPair()
        let keys = stack.root + "/keys"
        let env = ["PATH": "/usr/bin:/bin"]
        let passphrase = "correct horse battery staple"
        try (passphrase + "\n").write(toFile: keys + "/passphrase", atomically: true, encoding: .utf8)
        let before = try stack.fingerprint(.content)

        let encryptions: [(name: String, backup: [String], read: [String])] = [
            ("plain", [], []),
            ("recipient", ["--recipient", recipient], ["--identity", identity]),
            ("passphrase", ["--passphrase-file", keys + "/passphrase"], ["--passphrase-file", keys + "/passphrase"]),
        ]
        var files: [String: String] = [:]
        for compress in ["none", "gzip", "zstd"] {
            for encryption in encryptions {
                let label = "\(compress)+\(encryption.name)"
                let file = try saved(try stack.kg(["admin", "backup", "--type", "full", "--compress", compress] + encryption.backup))
                files[label] = file
                XCTAssertEqual(file.hasSuffix(".age"), encryption.name != "plain", "\(label): \(file)")
                try stack.wipeGraph()
                let restore = try stack.kg(["admin", "restore", file, "--yes", "--mode", "replace"] + encryption.read)
                XCTAssertEqual(restore.exitCode, 0, "\(label): \(restore.summary)\n\(stack.logs)")
                try stack.assertGraph(equals: before, "\(label) restores the graph the backup holds", scope: .content)
            }
        }

        // The age tool opens kg's passphrase file (the passphrase typed at its terminal) …
        let locked = try XCTUnwrap(files["none+passphrase"])
        let opened = stack.root + "/opened.json"
        let decrypt = try runCommand(
            "/usr/bin/script", ["-qec", "age -d -o '\(opened)' '\(locked)'", "/dev/null"],
            environment: env, input: passphrase + "\n", timeout: 60)
        XCTAssertEqual(decrypt.exitCode, 0, decrypt.summary)
        XCTAssertTrue(
            NSDictionary(dictionary: try BackupFile(path: opened).data)
                .isEqual(to: try BackupFile(path: try XCTUnwrap(files["none+plain"])).data))
        // … and kg opens a file the age tool encrypted with a passphrase, and restores it.
        let fromTool = stack.root + "/from-the-tool.json.age"
        let encrypt = try runCommand(
            "/usr/bin/script",
            ["-qec", "age -p -o '\(fromTool)' '\(try XCTUnwrap(files["none+plain"]))'", "/dev/null"],
            environment: env, input: passphrase + "\n" + passphrase + "\n", timeout: 60)
        XCTAssertEqual(encrypt.exitCode, 0, encrypt.summary)
        try stack.wipeGraph()
        let restore = try stack.kg(["admin", "restore", fromTool, "--yes", "--mode", "replace", "--passphrase-file", keys + "/passphrase"])
        XCTAssertEqual(restore.exitCode, 0, restore.summary)
        try stack.assertGraph(equals: before, "a file age encrypted with a passphrase restores", scope: .content)
    }
}
