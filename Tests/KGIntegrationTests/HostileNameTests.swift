import Foundation
import KGClient
import XCTest

/// No path is ever built from a user's text: hostile ontology names and
/// multipart file names end up as safe names inside the right folder.
final class HostileNameTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    /// Every file under `dir` (recursively) whose name contains `_backup_`.
    private func backupFiles(under dir: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: dir) else { return [] }
        // Each backup's .sha256 (issue 17) sits beside it: the backups themselves are compared here.
        return walker.compactMap { $0 as? String }
            .filter { ($0 as NSString).lastPathComponent.contains("_backup_") && !$0.hasSuffix(".sha256") }
            .map { dir + "/" + $0 }
    }

    func testHostileOntologyNamesMakeSafeFileNamesInBackupDir() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 12, ontologies: 3, dimensions: 4)
        let hostile = ["../../etc", "a/b\u{01}c\nd", "名前/../x"]
        let db = try stack.db()
        let names = try db.query("SELECT name FROM kg.ontologies ORDER BY name").rows.compactMap { $0[0] }
        XCTAssertEqual(names.count, 3)
        for (old, new) in zip(names, hostile) {
            try db.query("UPDATE kg.ontologies SET name = $2 WHERE name = $1", [old, new])
        }
        db.close()
        try stack.login()

        // Letters and digits of any script survive (issue 20: a non-ASCII name is kept), nothing else.
        let safe = try NSRegularExpression(pattern: #"^[\p{L}\p{M}\p{N}_-][\p{L}\p{M}\p{N}._-]*_backup_[0-9]{8}_[0-9]{6}\.json$"#)
        let backupDir = URL(fileURLWithPath: stack.backupDir).standardizedFileURL.path
        var made: [String] = []
        for name in hostile {
            let r = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", name])
            XCTAssertEqual(r.exitCode, 0, "\(name.debugDescription): \(r.summary)\(stack.logs)")
            let path = URL(fileURLWithPath: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).standardizedFileURL.path
            let file = (path as NSString).lastPathComponent
            XCTAssertEqual((path as NSString).deletingLastPathComponent, backupDir, "\(name.debugDescription) → \(path)")
            XCTAssertEqual(safe.numberOfMatches(in: file, range: NSRange(file.startIndex..., in: file)), 1, "unsafe name \(file)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: path))
            let inside = try BackupFile(path: path)
            XCTAssertEqual(inside.object["ontology"] as? String, name, "the file holds the ontology under its real name")
            made.append(path)
            sleep(1)  // distinct time stamps
        }
        XCTAssertEqual(Set(made).count, hostile.count)
        // Nothing anywhere else in the test's folder (CLI home, temp storage, logs) or above it.
        XCTAssertEqual(Set(backupFiles(under: stack.root).map { URL(fileURLWithPath: $0).standardizedFileURL.path }), Set(made))
        let parent = (stack.root as NSString).deletingLastPathComponent
        let escaped = ((try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? []).filter {
            $0.contains("etc_backup") || $0.hasPrefix("x_backup")
        }
        XCTAssertEqual(escaped, [])

        // The gateway's Content-Disposition: quoted ASCII fallback plus RFC 6266 filename*; the client takes filename*.
        let token = try stack.token()
        let r = try stack.call("POST", "/admin/backup", token: token, json: #"{"backup_type": "ontology", "ontology_name": "名前/../x"}"#)
        XCTAssertEqual(r.status, 200)
        let disposition = try XCTUnwrap(r.headers["content-disposition"])
        XCTAssertTrue(disposition.hasPrefix("attachment; filename=\""), disposition)
        XCTAssertTrue(disposition.contains("; filename*=UTF-8''"), disposition)
        XCTAssertFalse(disposition.contains("/"), disposition)
        let parsed = try XCTUnwrap(parseContentDispositionFilename(disposition))
        XCTAssertEqual(safe.numberOfMatches(in: parsed, range: NSRange(parsed.startIndex..., in: parsed)), 1, parsed)

        // NUL never reaches the database or a name.
        let nul = try stack.call("POST", "/admin/backup", token: token, json: #"{"backup_type": "ontology", "ontology_name": "a\u0000b"}"#)
        XCTAssertEqual(nul.status, 400, String(decoding: nul.body, as: UTF8.self))
    }

    /// A multipart part's file name is recorded, never used as a path.
    func testMultipartFileNameIsNeverAPath() throws {
        stack = try TestStack(workers: 0)
        let token = try stack.token()
        let client = HTTPClient(baseURL: stack.apiURL, token: token)
        let targets = ["../../x", "../../../kg-hostile-\(stack.name)", "/tmp/kg-hostile-abs-\(stack.name)"]
        for name in targets {
            for path in ["/admin/backup/verify", "/admin/restore"] {
                let r = try client.uploadMultipart(
                    path: path, fields: [("dry_run", "true")], fileField: "file",
                    filePath: TestStack.fixtureBackup, fileName: name, contentType: "application/json")
                XCTAssertEqual(r.status, path.hasSuffix("verify") ? 200 : 202, "\(path) \(name): \(String(decoding: r.body, as: UTF8.self))")
            }
            let resolved = URL(fileURLWithPath: stack.tempDir).appendingPathComponent(name).standardizedFileURL.path
            XCTAssertFalse(FileManager.default.fileExists(atPath: resolved), "\(name) was used as a path: \(resolved)")
            if name.hasPrefix("/") { XCTAssertFalse(FileManager.default.fileExists(atPath: name), name) }
        }
        let restoreFile = try NSRegularExpression(pattern: #"^restore_[0-9a-f-]{36}\.json$"#)
        let files = stack.tempFiles()
        XCTAssertEqual(files.count, targets.count, "one temp file per queued restore: \(files)")
        for file in files {
            XCTAssertEqual(restoreFile.numberOfMatches(in: file, range: NSRange(file.startIndex..., in: file)), 1, file)
        }
        // The name is kept as data, with the job.
        let db = try stack.db()
        defer { db.close() }
        let stored = Set(try db.query("SELECT params->>'file_name' FROM kg_api.jobs").rows.compactMap { $0[0] })
        XCTAssertEqual(stored, Set(targets))
    }
}
