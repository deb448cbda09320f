import Foundation
import KGClient
import KGTestSupport
import XCTest

final class HTTPClientDownloadTests: ServerTestCase {
    private struct Stop: Error {}

    func testChunkedDownloadDeliversEveryByteAfterTheHead() throws {
        let size = 16 * 1024 * 1024 + 123
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kgclient-\(UUID().uuidString).bin")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: url) }
        let output = try FileHandle(forWritingTo: url)

        var order: [String] = []
        var fileName: String?
        var jobID: String?
        var progress: [(Int64, Int64?)] = []
        let result = try makeClient().download(
            method: "POST", path: "/download?size=\(size)", json: Data(#"{"backup_type": "full"}"#.utf8),
            onResponseHead: { status, headers in
                order.append("head")
                XCTAssertEqual(status, 200)
                fileName = headers["content-disposition"].flatMap(parseContentDispositionFilename)
                jobID = headers["x-job-id"]
            },
            onData: { chunk in
                if order.last != "data" { order.append("data") }
                try output.write(contentsOf: Data(chunk))
            },
            onProgress: { progress.append(($0, $1)) })
        try output.close()

        XCTAssertEqual(order, ["head", "data"])
        XCTAssertEqual(fileName, "full_backup_20240102_030405.json")
        XCTAssertEqual(jobID, "job-123")
        XCTAssertEqual(result.status, 200)
        XCTAssertEqual(result.bytesReceived, Int64(size))
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int, size)
        XCTAssertEqual(try sha256Hex(ofFile: url.path), result.headers["x-content-sha256"])
        XCTAssertEqual(progress.last?.0, Int64(size))
        XCTAssertNil(progress.last?.1, "a chunked body has no announced size")
        XCTAssertEqual(progress.map(\.0), progress.map(\.0).sorted(), "progress never goes down")
    }

    func testContentLengthDownloadReportsExpectedSize() throws {
        let size = 3 * 1024 * 1024
        var received = 0
        var last: (Int64, Int64?)?
        let result = try makeClient().download(
            path: "/download?size=\(size)&length=1",
            onData: { received += $0.count },
            onProgress: { last = ($0, $1) })
        XCTAssertEqual(received, size)
        XCTAssertEqual(result.bytesReceived, Int64(size))
        XCTAssertEqual(last?.0, Int64(size))
        XCTAssertEqual(last?.1, Int64(size))
    }

    func testChunkedStreamCutMidwayIsAnError() {
        var received = 0
        XCTAssertThrowsError(
            try makeClient().download(
                path: "/download?size=\(4 << 20)&cut=\(1 << 20)", onData: { received += $0.count })
        ) { error in
            guard case .transferInterrupted? = error as? HTTPClientError else {
                return XCTFail("expected transferInterrupted, got \(error)")
            }
            print("cut chunked stream reads: \(error)")
        }
        XCTAssertEqual(received, 1 << 20)
    }

    func testContentLengthBodyCutMidwayIsAnError() {
        XCTAssertThrowsError(
            try makeClient().download(
                path: "/download?size=\(4 << 20)&cut=1000&length=1", onData: { _ in })
        ) { error in
            guard case .transferInterrupted? = error as? HTTPClientError else {
                return XCTFail("expected transferInterrupted, got \(error)")
            }
        }
    }

    func testErrorStatusIsThrownNotDelivered() {
        var delivered = false
        XCTAssertThrowsError(
            try makeClient().download(
                method: "POST", path: "/forbidden", json: Data("{}".utf8),
                onResponseHead: { _, _ in delivered = true },
                onData: { _ in delivered = true })
        ) { error in
            guard case .http(let status, let message, let body)? = error as? HTTPClientError else {
                return XCTFail("expected http, got \(error)")
            }
            XCTAssertEqual(status, 403)
            XCTAssertEqual(message, "forbidden: admin role required")
            XCTAssertTrue(String(decoding: body, as: UTF8.self).contains("admin role required"))
        }
        XCTAssertFalse(delivered)
    }

    func testMissingTokenIsAnHTTPError() {
        XCTAssertThrowsError(try makeClient(token: nil).download(path: "/download?size=10", onData: { _ in })) { error in
            XCTAssertEqual((error as? HTTPClientError)?.httpStatus, 401)
        }
    }

    func testThrowingFromOnDataAbortsAndRethrows() {
        var received = 0
        let started = Date()
        XCTAssertThrowsError(
            try makeClient().download(
                path: "/download?size=\(1 << 30)&pattern=1",
                onData: { chunk in
                    received += chunk.count
                    if received > 1 << 20 { throw Stop() }
                })
        ) { error in
            XCTAssertTrue(error is Stop, "got \(error)")
        }
        XCTAssertLessThan(received, 8 << 20, "the transfer stopped")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testThrowingFromOnResponseHeadAbortsBeforeAnyData() {
        var delivered = false
        XCTAssertThrowsError(
            try makeClient().download(
                path: "/download?size=1000",
                onResponseHead: { _, _ in throw Stop() },
                onData: { _ in delivered = true })
        ) { error in
            XCTAssertTrue(error is Stop, "got \(error)")
        }
        XCTAssertFalse(delivered)
    }

    func testRefusedConnectionIsUnreachable() {
        let client = HTTPClient(baseURL: "http://127.0.0.1:\(freePort())", token: nil)
        XCTAssertThrowsError(try client.download(path: "/download", onData: { _ in })) { error in
            guard case .unreachable? = error as? HTTPClientError else { return XCTFail("got \(error)") }
        }
    }

    /// A 200 MB download streamed to /dev/null must not grow the process's
    /// peak resident set by more than ~30 MB.
    func testLargeDownloadRunsInConstantMemory() throws {
        let size: Int64 = 200 * 1024 * 1024
        let devNull = try XCTUnwrap(FileHandle(forWritingAtPath: "/dev/null"))
        defer { try? devNull.close() }
        let fd = devNull.fileDescriptor

        let resetWorked = ProcessMemory.resetPeak()
        let before = ProcessMemory.peakResidentKiB()
        let started = Date()
        let result = try makeClient().download(
            path: "/download?size=\(size)&pattern=1",
            onData: { chunk in _ = write(fd, chunk.baseAddress, chunk.count) })
        let seconds = Date().timeIntervalSince(started)
        let after = ProcessMemory.peakResidentKiB()

        XCTAssertEqual(result.bytesReceived, size)
        let growthMiB = Double(after - before) / 1024
        print(
            String(
                format: "200 MB download to /dev/null: %.2f s, peak RSS %d KiB -> %d KiB (+%.1f MiB; VmHWM reset: %@)",
                seconds, before, after, growthMiB, resetWorked ? "yes" : "no"))
        XCTAssertLessThan(growthMiB, 30)
    }
}
