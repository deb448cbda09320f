import Foundation
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
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), ["precious.json"])

        let missing = try stack.kg(["admin", "backup", "--type", "full", "--output", folder + "/nope/x.json"])
        XCTAssertEqual(missing.exitCode, 1, missing.summary)
        XCTAssertTrue(missing.stderr.contains("the folder \(folder)/nope does not exist"), missing.stderr)
        XCTAssertFalse(missing.stderr.contains(".partial"), missing.stderr)
    }
}
