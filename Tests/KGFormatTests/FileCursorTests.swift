import Foundation
import KGFormat
import KGTestSupport
import XCTest

/// `FileCursor`, the pull-shaped file reader of the CLI's uploads: bytes from an offset,
/// in the caller's buffer sizes, 0 at the end; a directory or a missing file is refused.
final class FileCursorTests: XCTestCase {
    private var folder: TemporaryFolder!

    override func setUpWithError() throws { folder = try TemporaryFolder("kg-cursor") }
    override func tearDown() { folder?.remove() }

    private func readAll(_ cursor: FileCursor, bufferSize: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: bufferSize)
        while true {
            let n = try buffer.withUnsafeMutableBytes { try cursor.read(into: $0) }
            if n == 0 { return out }
            out += buffer[0..<n]
        }
    }

    func testReadsFromAnOffsetToTheEndInAnyBufferSize() throws {
        let bytes = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let path = try folder.write("file", bytes)
        XCTAssertEqual(try readAll(FileCursor(path: path), bufferSize: 4096), bytes)
        XCTAssertEqual(try readAll(FileCursor(path: path, offset: 12_345), bufferSize: 777), Array(bytes[12_345...]))
        XCTAssertEqual(try readAll(FileCursor(path: path, offset: 100_000), bufferSize: 10), [])
        let cursor = try FileCursor(path: path, offset: 99_990)
        XCTAssertEqual(try readAll(cursor, bufferSize: 64), Array(bytes[99_990...]))
        var buffer = [UInt8](repeating: 0, count: 8)
        XCTAssertEqual(try buffer.withUnsafeMutableBytes { try cursor.read(into: $0) }, 0, "the end stays the end")
    }

    func testAMissingFileAndADirectoryAreRefusedByName() {
        let missing = folder.path("missing")
        XCTAssertThrowsError(try FileCursor(path: missing)) {
            XCTAssertEqual(($0 as? FileReadError)?.message, "no such file: \(missing)")
        }
        XCTAssertThrowsError(try FileCursor(path: folder.path)) {
            XCTAssertEqual(($0 as? FileReadError)?.message, "\(folder.path) is a directory, not a backup file")
        }
    }
}
