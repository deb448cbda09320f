import Foundation
import XCTest
@testable import KGGateway

final class MultipartThroughputTests: XCTestCase {
    /// Prints how fast a 100 MiB file part goes through `MultipartUpload` in 64 KiB chunks, for
    /// random bytes (a compressed backup: a CR every 256 bytes) and for CRLF text (a CR every
    /// 40 bytes, each one a boundary candidate). The chunks come from a 32 MiB pool, so the
    /// bytes are not all in cache. No assertion on speed (debug builds and busy machines vary),
    /// only on the byte count and on the number of file callbacks, about one per chunk.
    func testThroughputOf100MBFilePart() throws {
        let random = MultipartFixture.randomBytes(32 * 1024 * 1024, seed: 99)
        try measure(label: "random bytes", pool: random)

        let line = Array("1234567,alice,bob,knows,2024-01-01T00:00Z\r\n".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(random.count + line.count)
        while text.count < random.count { text += line }
        try measure(label: "CRLF text", pool: Array(text[..<random.count]))
    }

    private func measure(label: String, pool: [UInt8]) throws {
        let chunkSize = 64 * 1024
        let chunkCount = 1600  // 100 MiB of file
        let poolChunks = pool.count / chunkSize
        let head = MultipartFixture.body([.field("graph", "bench"), .file([])], close: false)
        let tail = Array("\r\n--".utf8) + MultipartFixture.boundary + Array("--\r\n".utf8)

        var upload = MultipartUpload(boundary: MultipartFixture.boundary)
        var fileBytes = 0
        var callbacks = 0
        let start = ContinuousClock.now
        try head.withUnsafeBytes { try upload.feed($0) { _ in XCTFail("no file data in the head") } }
        try pool.withUnsafeBytes { all in
            for index in 0..<chunkCount {
                let offset = (index % poolChunks) * chunkSize
                try upload.feed(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + chunkSize)])) { bytes in
                    fileBytes += bytes.count
                    callbacks += 1
                }
            }
        }
        try tail.withUnsafeBytes { try upload.feed($0) { _ in callbacks += 1 } }
        let summary = try upload.finish()
        let elapsed = ContinuousClock.now - start

        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let megabytes = Double(chunkSize * chunkCount) / 1_000_000
        print(
            String(
                format: "multipart throughput (%@): %.0f MB in %.3f s = %.0f MB/s (%d file callbacks for %d chunks)",
                label, megabytes, seconds, megabytes / seconds, callbacks, chunkCount))
        XCTAssertEqual(fileBytes, chunkSize * chunkCount)
        XCTAssertEqual(summary.fileBytes, chunkSize * chunkCount)
        XCTAssertEqual(summary.fields, ["graph": "bench"])
        XCTAssertLessThanOrEqual(callbacks, chunkCount + 2)
    }
}
