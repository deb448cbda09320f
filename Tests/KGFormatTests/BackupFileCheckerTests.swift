import Foundation
import XCTest
import KGFormat
import KGTestSupport

final class BackupFileCheckerTests: XCTestCase {
    private var folder: TemporaryFolder!
    private var directory: URL { folder.url }

    override func setUpWithError() throws {
        folder = try TemporaryFolder("kgformat")
    }

    override func tearDownWithError() throws {
        folder.remove()
    }

    private func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try folder.write(name, bytes)
    }

    func testValidPlainAndGzipFiles() throws {
        let document = BackupFixtures.document().jsonBytes
        let plain = BackupFileChecker.check(path: try write("full_backup_20240501_100000.json", document))
        XCTAssertEqual(plain.findings, [])

        let gzip = try GzipCompressor()
        let compressed = gzip.compress(document) + gzip.finish()
        // Named .json but gzip inside: detected by content.
        let report = BackupFileChecker.check(path: try write("misnamed.json", compressed))
        XCTAssertEqual(report.findings, [])
        XCTAssertEqual(report, plain)
    }

    func testMissingFile() {
        let path = directory.appendingPathComponent("nope.json").path
        let report = BackupFileChecker.check(path: path)
        XCTAssertFalse(report.valid)
        XCTAssertEqual(report.errors.first?.category, .format)
        XCTAssertEqual(report.errors.first?.message, "no such file: \(path)")
        XCTAssertEqual(report.info, [])
        XCTAssertEqual(report.renderText().split(separator: "\n").first, "error [format] no such file: \(path)")
    }

    func testDirectory() {
        let report = BackupFileChecker.check(path: directory.path)
        XCTAssertFalse(report.valid)
        XCTAssertEqual(report.errors.first?.message, "\(directory.path) is a directory, not a backup file")
    }

    func testUnreadableFile() throws {
        // Root reads any file whatever its mode (CI runs as root): then this test runs
        // itself again, in a child process of the unprivileged user `nobody`.
        if getuid() == 0 { return try runAsNobody("BackupFileCheckerTests/testUnreadableFile") }
        let path = try write("secret.json", Array("{}".utf8))
        chmod(path, 0)
        defer { chmod(path, 0o644) }
        XCTAssertNotEqual(access(path, R_OK), 0, "the file must be unreadable for this test to mean anything")
        let report = BackupFileChecker.check(path: path)
        XCTAssertFalse(report.valid)
        XCTAssertTrue(report.errors.first?.message.contains("permission denied") ?? false, "\(report.errors)")
    }

    /// Runs one test of this bundle in a child test process as `nobody` (setpriv) and
    /// fails unless it ran and passed there.
    private func runAsNobody(_ test: String) throws {
        let bundle = try XCTUnwrap(Bundle.main.executablePath, "no test executable to run again")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", bundle, "KGFormatTests.\(test)"]
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": "/tmp", "TMPDIR": "/tmp"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(test) as nobody:\n\(text)")
        XCTAssertTrue(text.contains("Executed 1 test, with 0 failures"), "\(test) as nobody did not run, or failed:\n\(text)")
    }

    func testEmptyAndNotJSONFiles() throws {
        let empty = BackupFileChecker.check(path: try write("empty.json", []))
        XCTAssertFalse(empty.valid)
        XCTAssertTrue(empty.errors[0].message.contains("empty"), empty.errors[0].message)

        let html = BackupFileChecker.check(path: try write("page.json", Array("<!doctype html>".utf8)))
        XCTAssertTrue(html.errors[0].message.contains("not JSON"), html.errors[0].message)
        XCTAssertTrue(html.renderText().contains("INVALID: 1 error"))
    }

    func testLargeFileAcrossManyChunks() throws {
        var sections = BackupFixtures.sections
        sections[1].value = .array((0..<25_000).map { BackupFixtures.concept("c\($0)") })
        let document = BackupFixtures.document(sections: sections).jsonBytes
        XCTAssertGreaterThan(document.count, 2 * BackupFileChecker.chunkSize)
        let report = BackupFileChecker.check(path: try write("big.json", document))
        XCTAssertEqual(report.findings, [])
        XCTAssertEqual(report.counts["concepts"], 25_000)
    }
}
