import Foundation
import XCTest
@testable import KGFormat

/// zstd in KGFormat: the compressor the worker writes with, and the content
/// decoder every reader uses, which knows zstd by its magic bytes.
final class ZstdTests: XCTestCase {
    let text = Array((0..<5000).map { "{\"concept_id\": \"c\($0)\", \"label\": \"Concept \($0)\"}\n" }.joined().utf8)

    func zstd(_ bytes: [UInt8], chunk: Int = 4096) throws -> [UInt8] {
        let compressor = try ZstdCompressor()
        var out: [UInt8] = []
        var offset = 0
        while offset < bytes.count {
            let piece = Array(bytes[offset..<min(bytes.count, offset + chunk)])
            piece.withUnsafeBytes { compressor.compress($0) { out.append(contentsOf: $0) } }
            offset += chunk
        }
        compressor.finish { out.append(contentsOf: $0) }
        return out
    }

    func decode(_ bytes: [UInt8], chunk: Int = 1000, limit: Int? = nil) throws -> [UInt8] {
        let decoder = ContentDecoder(maxDecompressedBytes: limit)
        var out: [UInt8] = []
        var offset = 0
        while offset < bytes.count {
            out += try decoder.decode(bytes[offset..<min(bytes.count, offset + chunk)])
            offset += chunk
        }
        out += try decoder.finish()
        return out
    }

    func testRoundTripInAnyChunking() throws {
        let compressed = try zstd(text)
        XCTAssertEqual(Array(compressed.prefix(4)), ContentDecoder.zstdMagic)
        XCTAssertLessThan(compressed.count, text.count / 4)
        for chunk in [1, 3, 7, 1000, 1 << 20] {
            XCTAssertEqual(try decode(compressed, chunk: chunk), text, "chunk \(chunk)")
        }
        XCTAssertEqual(try decode(try zstd([])), [])
    }

    func testDetectedByContentAndMagicSplitAcrossChunks() throws {
        let decoder = ContentDecoder()
        let compressed = try zstd(text)
        var out = try decoder.decode(compressed[0..<3])
        XCTAssertEqual(decoder.encoding, .undetermined, "three bytes of four may still be zstd")
        out += try decoder.decode(compressed[3...])
        out += try decoder.finish()
        XCTAssertEqual(decoder.encoding, .zstd)
        XCTAssertEqual(out, text)
        // Plain content that starts like the magic number is plain.
        XCTAssertEqual(try decode([0x28, 0xB5, 0x41, 0x42], chunk: 1), [0x28, 0xB5, 0x41, 0x42])
        XCTAssertEqual(try decode([0x28]), [0x28])
        XCTAssertEqual(ContentDecoder.detect([0x28, 0xB5, 0x2F]), nil)
        XCTAssertEqual(ContentDecoder.detect([0x7B]), .identity)
    }

    func testConcatenatedFramesAsZstdDoes() throws {
        let a = Array("first half, ".utf8), b = Array("second half".utf8)
        XCTAssertEqual(try decode(try zstd(a) + zstd(b), chunk: 5), a + b)
    }

    func testTruncatedAndCorruptAreNamed() throws {
        let compressed = try zstd(text)
        for cut in [5, compressed.count / 2, compressed.count - 1] {
            XCTAssertThrowsError(try decode(Array(compressed.prefix(cut)))) { error in
                XCTAssertEqual((error as? CompressionError)?.reason, .zstdTruncated, "cut \(cut)")
                XCTAssertTrue("\(error)".contains("zstd stream ends early"), "\(error)")
            }
        }
        var damaged = compressed
        damaged[damaged.count / 2] ^= 0xFF
        XCTAssertThrowsError(try decode(damaged)) { error in
            guard case .zstd = (error as? CompressionError)?.reason else { return XCTFail("\(error)") }
        }
    }

    func testDecompressedSizeIsCapped() throws {
        let zeros = [UInt8](repeating: 0x20, count: 8 << 20)
        let bomb = try zstd(zeros, chunk: 1 << 20)
        XCTAssertLessThan(bomb.count, 64 * 1024)
        XCTAssertThrowsError(try decode(bomb, limit: 1 << 20)) { error in
            XCTAssertEqual((error as? CompressionError)?.reason, .tooLarge(limit: 1 << 20))
        }
    }

    func testBackupFileCheckerAndHeaderReadZstd() throws {
        let document = Array(
            """
            {"version":"1.0","type":"full_backup","timestamp":"2026-01-01T00:00:00Z","schema_version":1,
             "producer":{"name":"kg","version":"0"},"data":{}}
            """.utf8)
        let path = NSTemporaryDirectory() + "kg-zstd-\(UUID().uuidString).json"
        defer { unlink(path) }
        try Data(try zstd(document)).write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(BackupHeader.peek(path: path)?.type, "full_backup")
        XCTAssertNil(BackupHeader.plainFileEndsWhole(path: path), "unknown for zstd without reading it all")
        XCTAssertEqual(ContentDecoder.encoding(ofFileAt: path), .zstd)
        let report = BackupFileChecker.check(path: path)
        XCTAssertEqual(report.backupType, "full_backup", report.renderText())
    }
}
