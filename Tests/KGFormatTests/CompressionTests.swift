import XCTest
import KGFormat

final class CompressionTests: XCTestCase {
    private func gzip(_ bytes: [UInt8], level: Int32 = 6, chunk: Int = 1000) throws -> [UInt8] {
        let compressor = try GzipCompressor(level: level)
        var out: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            out += compressor.compress(bytes[start..<end])
            start = end
        }
        return out + compressor.finish()
    }

    private func decode(_ bytes: [UInt8], chunk: Int = 4096, limit: Int? = nil) throws -> [UInt8] {
        let decoder = ContentDecoder(maxDecompressedBytes: limit)
        var out: [UInt8] = []
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + chunk)
            out += try decoder.decode(bytes[start..<end])
            start = end
        }
        return out + (try decoder.finish())
    }

    private let text: [UInt8] = Array((0..<20_000).map { "record \($0) " }.joined().utf8)

    func testRoundTrip() throws {
        for level: Int32 in [0, 1, 6, 9] {
            let compressed = try gzip(text, level: level)
            XCTAssertEqual(Array(compressed.prefix(2)), [0x1f, 0x8b])
            for chunk in [1, 7, 65_536] where !(chunk == 1 && level != 6) {
                XCTAssertEqual(try decode(compressed, chunk: chunk), text, "level \(level) chunk \(chunk)")
            }
        }
        XCTAssertLessThan(try gzip(text).count, text.count / 4)
    }

    func testEmptyInputRoundTrips() throws {
        XCTAssertEqual(try decode(try gzip([])), [])
        XCTAssertEqual(try decode([]), [])
        XCTAssertEqual(try decode([0x7b]), [0x7b])
    }

    func testGzipIsDetectedByContentNotByName() throws {
        let decoder = ContentDecoder()
        XCTAssertEqual(try decoder.decode(Array("{\"a\":1}".utf8)), Array("{\"a\":1}".utf8))
        XCTAssertEqual(decoder.encoding, .identity)

        let gz = ContentDecoder()
        // The magic bytes split across two chunks.
        let compressed = try gzip(text)
        var out = try gz.decode(compressed[0..<1])
        XCTAssertEqual(gz.encoding, .undetermined)
        out += try gz.decode(compressed[1...])
        out += try gz.finish()
        XCTAssertEqual(gz.encoding, .gzip)
        XCTAssertEqual(out, text)

        // A lone 0x1f that is not followed by 0x8b is plain content.
        XCTAssertEqual(try decode([0x1f, 0x41, 0x42], chunk: 1), [0x1f, 0x41, 0x42])
    }

    func testConcatenatedMembers() throws {
        let a = Array("first half, ".utf8), b = Array("second half".utf8)
        let both = try gzip(a) + gzip(b)
        XCTAssertEqual(try decode(both), a + b)
        XCTAssertEqual(try decode(both, chunk: 1), a + b)
    }

    func testTruncatedGzipThrowsAtFinish() throws {
        let compressed = try gzip(text)
        for cut in [3, 10, compressed.count / 2, compressed.count - 1] {
            XCTAssertThrowsError(try decode(Array(compressed[0..<cut]))) { error in
                XCTAssertEqual((error as? CompressionError)?.reason, .truncated, "cut \(cut)")
                XCTAssertTrue("\(error)".contains("truncated"))
            }
        }
    }

    func testCorruptGzip() throws {
        var compressed = try gzip(text)
        compressed[compressed.count / 2] ^= 0xFF
        compressed[compressed.count / 2 + 1] ^= 0xFF
        XCTAssertThrowsError(try decode(compressed)) { error in
            guard case .corrupt = (error as? CompressionError)?.reason else { return XCTFail("\(error)") }
        }
        let trailing = try gzip(text) + Array("garbage".utf8)
        XCTAssertThrowsError(try decode(trailing)) { error in
            XCTAssertTrue("\(error)".contains("after the end of the gzip stream"), "\(error)")
        }
    }

    func testBombLimitStopsInflatingWithBoundedOutput() throws {
        // 64 MiB of zeros compresses to about 64 KiB.
        let compressor = try GzipCompressor(level: 9)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var bomb: [UInt8] = []
        for _ in 0..<64 { bomb += compressor.compress(zeros) }
        bomb += compressor.finish()
        XCTAssertLessThan(bomb.count, 200_000)

        let decoder = ContentDecoder(maxDecompressedBytes: 10 << 20)
        var delivered = 0
        var largestPiece = 0
        XCTAssertThrowsError(
            try bomb.withUnsafeBytes { raw in
                try decoder.decode(raw) { piece in
                    delivered += piece.count
                    largestPiece = max(largestPiece, piece.count)
                }
            }
        ) { error in
            XCTAssertEqual((error as? CompressionError)?.reason, .tooLarge(limit: 10 << 20))
            XCTAssertTrue("\(error)".contains("gzip bomb"), "\(error)")
        }
        XCTAssertLessThanOrEqual(delivered, 10 << 20)
        XCTAssertLessThanOrEqual(largestPiece, 64 * 1024)
        // The decoder stays failed.
        XCTAssertThrowsError(try decoder.finish())
    }

    func testGzipBackupIsCheckedLikeAPlainOne() throws {
        let document = BackupFixtures.document().jsonBytes
        let report = check(try gzip(document, chunk: 10), chunkSize: 13)
        XCTAssertEqual(report.findings, [])
        XCTAssertEqual(report.counts["concepts"], 3)

        let truncated = try gzip(document)
        let broken = check(Array(truncated[0..<(truncated.count - 10)]))
        XCTAssertFalse(broken.valid)
        XCTAssertEqual(broken.errors.first?.category, .format)

        let bombed = check(try gzip(document), maxDecompressedBytes: 100)
        XCTAssertFalse(bombed.valid)
        XCTAssertTrue(bombed.errors[0].message.contains("more than 100 bytes"), bombed.errors[0].message)
    }
}
