import Foundation
import KGClient
import KGTestSupport
import XCTest

final class HTTPClientUploadTests: ServerTestCase {
    private struct UploadReport: Decodable {
        struct File: Decodable {
            let field: String
            let filename: String
            let content_type: String
            let size: Int
            let sha256: String
        }
        let fields: [String: String]
        let file: File?
        let expect: String?
    }

    func testLargeUploadStreamsTheFileAndReportsProgressToTheEnd() throws {
        let size = 50 * 1024 * 1024 + 7
        let file = try makeTemporaryFile(size: size)
        defer { try? FileManager.default.removeItem(at: file) }
        let digest = try sha256Hex(ofFile: file.path)

        var progress: [(sent: Int64, total: Int64)] = []
        ProcessMemory.resetPeak()
        let before = ProcessMemory.peakResidentKiB()
        let started = Date()
        let response = try makeClient().uploadMultipart(
            path: "/upload",
            fields: [(name: "mode", value: "full"), (name: "checkpoint", value: "true"), (name: "note", value: "été; \"quoted\"")],
            fileField: "file",
            filePath: file.path,
            fileName: "full_backup_20240102_030405.json",
            contentType: "application/json",
            onProgress: { progress.append(($0, $1)) })
        let seconds = Date().timeIntervalSince(started)
        let growthMiB = Double(ProcessMemory.peakResidentKiB() - before) / 1024
        print(String(format: "50 MB multipart upload: %.2f s, peak RSS +%.1f MiB, %d progress calls", seconds, growthMiB, progress.count))

        XCTAssertEqual(response.status, 200, response.errorMessage ?? "")
        let report = try response.decodeJSON(UploadReport.self)
        XCTAssertEqual(report.fields, ["mode": "full", "checkpoint": "true", "note": "été; \"quoted\""])
        XCTAssertEqual(report.file?.field, "file")
        XCTAssertEqual(report.file?.filename, "full_backup_20240102_030405.json")
        XCTAssertEqual(report.file?.content_type, "application/json")
        XCTAssertEqual(report.file?.size, size)
        XCTAssertEqual(report.file?.sha256, digest)
        XCTAssertNil(report.expect, "no Expect: 100-continue")

        let last = try XCTUnwrap(progress.last)
        XCTAssertEqual(last.sent, last.total, "progress reached the total")
        XCTAssertGreaterThan(last.total, Int64(size), "the total includes the multipart framing")
        XCTAssertEqual(progress.map(\.sent), progress.map(\.sent).sorted())
        XCTAssertLessThan(growthMiB, 30, "memory must not grow with the file")
    }

    func testRefusedUploadReturnsTheGatewaysAnswer() throws {
        let file = try makeTemporaryFile(size: 20 * 1024 * 1024)
        defer { try? FileManager.default.removeItem(at: file) }
        let response = try makeClient(token: nil).uploadMultipart(
            path: "/upload", fields: [], fileField: "file", filePath: file.path,
            fileName: "b.json", contentType: "application/json", onProgress: { _, _ in })
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.errorMessage, "unauthorized: missing or invalid bearer token")
    }

    func testMissingFileIsAnInvalidRequest() {
        XCTAssertThrowsError(
            try makeClient().uploadMultipart(
                path: "/upload", fields: [], fileField: "file", filePath: "/nonexistent/backup.json",
                fileName: "backup.json", contentType: "application/json", onProgress: { _, _ in })
        ) { error in
            XCTAssertEqual(error as? HTTPClientError, .invalidRequest("cannot upload /nonexistent/backup.json: no such file"))
        }
    }

    func testRefusedConnectionIsUnreachable() throws {
        let file = try makeTemporaryFile(size: 1000)
        defer { try? FileManager.default.removeItem(at: file) }
        let client = HTTPClient(baseURL: "http://127.0.0.1:\(freePort())", token: nil)
        XCTAssertThrowsError(
            try client.uploadMultipart(
                path: "/upload", fields: [], fileField: "file", filePath: file.path,
                fileName: "b.json", contentType: "application/json", onProgress: { _, _ in })
        ) { error in
            guard case .unreachable? = error as? HTTPClientError else { return XCTFail("got \(error)") }
        }
    }
}
