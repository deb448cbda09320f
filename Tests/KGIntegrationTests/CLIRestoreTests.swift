import Foundation
import KGTestSupport
import XCTest

/// `kg admin restore` as a user runs it: the real CLI against the real system.
final class CLIRestoreTests: XCTestCase {
    var stack: TestStack!

    override func setUpWithError() throws {
        stack = try TestStack()
        try stack.loadSample(concepts: 30, ontologies: 2, dimensions: 8)
        try stack.login()
    }

    override func tearDown() {
        stack?.stop()
    }

    func backup(_ extra: [String] = ["--type", "full"]) throws -> String {
        let r = try stack.kg(["admin", "backup"] + extra)
        XCTAssertEqual(r.exitCode, 0, r.summary)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testRestoreByNameRoundTrip() throws {
        let file = try backup()
        let before = try stack.graphChecksum()
        try stack.db().execute("DELETE FROM kg.relationships; UPDATE kg.concepts SET label = 'x'")
        XCTAssertNotEqual(try stack.graphChecksum(), before)
        let r = try stack.kg(["admin", "restore", URL(fileURLWithPath: file).lastPathComponent, "--yes"])
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        let jobID = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertNotNil(UUID(uuidString: jobID), "stdout is the job id: \(r.stdout)")
        XCTAssertTrue(r.stderr.contains("restored"), r.stderr)
        XCTAssertEqual(try stack.graphChecksum(), before, "the graph is the backup's content again")
        XCTAssertFalse(r.stderr.contains("\u{1B}["), "no terminal control sequences when stderr is not a terminal")
    }

    func testJSONOutputAndDryRun() throws {
        let file = try backup(["--type", "full", "--compress", "gzip"])
        try stack.db().execute("DELETE FROM kg.relationships")
        let before = try stack.graphChecksum()
        let dry = try stack.kg(["admin", "restore", file, "--dry-run", "--json"])
        XCTAssertEqual(dry.exitCode, 0, dry.summary)
        let object = try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(object["status"] as? String, "completed")
        let result = object["result"] as? [String: Any]
        XCTAssertEqual(result?["dry_run"] as? Bool, true)
        XCTAssertEqual((result?["restored"] as? [String: Int])?["relationships"], 90)
        XCTAssertEqual(try stack.graphChecksum(), before, "a dry run changes nothing")
    }

    func testUsageErrorsWithoutATerminal() throws {
        let file = try backup()
        let noYes = try stack.kg(["admin", "restore", file])
        XCTAssertEqual(noYes.exitCode, 2, noYes.summary)
        XCTAssertTrue(noYes.stderr.contains("--yes"), noYes.stderr)
        let noFile = try stack.kg(["admin", "restore", "--yes"])
        XCTAssertEqual(noFile.exitCode, 2, noFile.summary)
        let badMode = try stack.kg(["admin", "restore", file, "--yes", "--mode", "sideways"])
        XCTAssertEqual(badMode.exitCode, 2, badMode.summary)
        XCTAssertEqual(try stack.jobCount(), 0)
    }

    func testInvalidFileIsNotSent() throws {
        let path = stack.root + "/broken.json"
        try
            #"{"version":"1.0","type":"full_backup","data":{"concepts":[],"sources":[],"instances":[{"instance_id":"i","quote":"q","concept_id":"c","source_id":"s"}],"relationships":[]}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let r = try stack.kg(["admin", "restore", path, "--yes"])
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertTrue(r.stderr.contains("not a valid backup") && r.stderr.contains("nothing was changed"), r.stderr)
        XCTAssertTrue(r.stderr.contains("[references]"), r.stderr)
        XCTAssertEqual(try stack.jobCount(), 0)
        XCTAssertEqual(uploadFiles(), [], "the gateway keeps nothing of it")
    }

    /// With --yes the local check rides along the upload's read (one pass over the file, not two):
    /// a file whose fault shows only once all of it was read (a reference to a concept it lacks) is
    /// stopped before its last byte, so the gateway never takes it whole and queues nothing.
    func testAnInvalidFileCheckedAlongItsUploadIsStoppedBeforeItsLastByte() throws {
        try stack.wipeGraph()
        try stack.loadSample(concepts: 400, ontologies: 2, dimensions: 256)
        let file = try backup()
        let before = try stack.graphChecksum()
        let text = try UploadFixtures.withDanglingInstance(try String(contentsOfFile: file, encoding: .utf8))
        let path = stack.root + "/dangling.json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertGreaterThan(text.utf8.count, 1 << 20, "more than one read of the file")

        let r = try stack.kg(["admin", "restore", path, "--yes", "--json"])
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertTrue(r.stderr.contains("stopped before the last byte") && r.stderr.contains("nothing was changed"), r.stderr)
        XCTAssertTrue(r.stderr.contains("[references]"), r.stderr)
        XCTAssertTrue(r.stdout.contains("\"integrity\""), "--json prints the report: \(r.stdout)")
        XCTAssertEqual(try stack.jobCount(), 0, "no restore was queued")
        XCTAssertEqual(uploadFiles(), [], "the abandoned upload is gone from the gateway")
        XCTAssertEqual(try stack.graphChecksum(), before)
        // The same file, repaired, restores by the same path.
        try FileManager.default.removeItem(atPath: path)
        let good = try stack.kg(["admin", "restore", file, "--yes"])
        XCTAssertEqual(good.exitCode, 0, good.summary)
        XCTAssertEqual(try stack.graphChecksum(), before)
    }

    /// The gateway's files of resumable uploads (`upload_<id>.json` and `.data`) in its temp folder.
    func uploadFiles() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: stack.tempDir)) ?? []).filter { $0.hasPrefix("upload_") }.sorted()
    }

    func testFailedRestoreSaysItWasRolledBack() throws {
        let file = try backup(["--type", "ontology", "--ontology", "Philosophy of Mind"])
        try stack.wipeGraph()
        let before = try stack.graphChecksum()
        let r = try stack.kg(["admin", "restore", file, "--yes", "--external-deps", "fail"])
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertTrue(r.stderr.contains("rolled back"), r.stderr)
        XCTAssertTrue(r.stderr.contains("external dependencies"), r.stderr)
        XCTAssertTrue(r.stderr.contains("No data was lost"), r.stderr)
        XCTAssertEqual(try stack.graphChecksum(), before)
        // With prune, the same file restores and says what it left out.
        let pruned = try stack.kg(["admin", "restore", file, "--yes", "--external-deps", "prune"])
        XCTAssertEqual(pruned.exitCode, 0, pruned.summary)
    }

    func testNotAuthenticatedExitsFour() throws {
        let file = try backup()
        let r = try stack.kg(["admin", "restore", file, "--yes", "--token", "kg_invalid"])
        XCTAssertEqual(r.exitCode, 4, r.summary)
        let unreachable = try stack.kg([
            "admin", "restore", file, "--yes", "--token", "kg_any",
            "--server", "http://127.0.0.1:\(freePort())",
        ])
        XCTAssertEqual(unreachable.exitCode, 3, unreachable.summary)
        XCTAssertEqual(try stack.jobCount(), 0)
    }
}
