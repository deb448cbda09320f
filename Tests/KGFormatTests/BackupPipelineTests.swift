import Foundation
import KGFormat
import KGTestSupport
import XCTest

/// The one read driver: file → decoder → reader → observers, its early stop, its errors;
/// and the shared descriptor loops under it.
final class BackupPipelineTests: XCTestCase {
    private let folder = try! TemporaryFolder("kgformat-pipeline")

    override func tearDown() {
        folder.remove()
    }

    /// Every observer sees every event, in order, whatever the compression and the chunk size;
    /// `onChunk` sees the file as stored and the bytes read so far.
    func testObserversSeeTheSameEventsForPlainGzipAndZstdFiles() throws {
        let document = BackupFixtures.document().jsonBytes
        let gzip = try GzipCompressor()
        let zstd = try ZstdCompressor()
        var expected: [BackupEvent] = []
        let reference = BackupStreamReader { expected.append($0) }
        try reference.feed(document)
        try reference.finish()
        XCTAssertEqual(expected.last, .end)

        for (name, bytes) in [
            ("plain.json", document), ("g.json.gz", gzip.compress(document) + gzip.finish()),
            ("z.json.zst", zstd.compress(document) + zstd.finish()),
        ] {
            let path = try folder.write(name, bytes)
            var first: [BackupEvent] = []
            var second: [BackupEvent] = []
            var stored: [UInt8] = []
            var lastCount = 0
            let pipeline = BackupPipeline(observers: [{ first.append($0) }, { second.append($0) }])
            let ending = try pipeline.read(path: path, chunkSize: 7) { chunk, bytesRead in
                stored.append(contentsOf: chunk)
                lastCount = bytesRead
            }
            XCTAssertEqual(ending, .finished, name)
            XCTAssertEqual(first, expected, name)
            XCTAssertEqual(second, expected, name)
            XCTAssertEqual(stored, bytes, name)
            XCTAssertEqual(lastCount, bytes.count, name)
            XCTAssertEqual(pipeline.storedBytes, bytes.count, name)
        }
    }

    /// A header peek stops the read where `data` begins: the records are never parsed.
    func testAPeekStopsTheReadWhereDataBegins() throws {
        let path = try folder.write("b.json", BackupFixtures.document().jsonBytes)
        let peek = BackupHeaderPeek()
        var records = 0
        let pipeline = BackupPipeline(observers: [peek.observe, { if case .record = $0 { records += 1 } }])
        XCTAssertEqual(try pipeline.read(path: path, chunkSize: 16), .stopped)
        XCTAssertEqual(records, 0)
        XCTAssertEqual(peek.header?.type, "full_backup")
        XCTAssertEqual(peek.header?.schemaVersion, 7)
        XCTAssertEqual(peek.header?.producer, "kg")
        XCTAssertEqual(peek.header?.sawData, true)
        XCTAssertEqual(BackupHeader.peek(path: path), peek.header)
    }

    /// A peek that does not stop lets the read go on to the end (the worker's check of a data-first file).
    func testAQuietPeekLetsTheReadFinish() throws {
        let path = try folder.write("b.json", BackupFixtures.document().jsonBytes)
        let peek = BackupHeaderPeek(stops: false)
        let checker = IntegrityChecker()
        XCTAssertEqual(try BackupPipeline(observers: [checker.observe, peek.observe]).read(path: path), .finished)
        XCTAssertEqual(peek.header?.schemaVersion, 7)
        XCTAssertEqual(checker.makeReport(), BackupFileChecker.check(path: path))
    }

    /// Errors pass through typed: the file's, the content's (the reader's, the decoder's).
    func testErrorsPassThroughTyped() throws {
        let missing = folder.path("nope.json")
        XCTAssertThrowsError(try BackupPipeline(observers: []).read(path: missing)) { error in
            XCTAssertEqual((error as? FileReadError)?.step, .open)
            XCTAssertEqual((error as? FileReadError)?.message, "no such file: \(missing)")
        }
        XCTAssertThrowsError(try BackupPipeline(observers: []).read(path: folder.path)) { error in
            XCTAssertEqual((error as? FileReadError)?.message, "\(folder.path) is a directory, not a backup file")
        }
        let cut = try folder.write("cut.json", Array(BackupFixtures.document().jsonBytes.dropLast(20)))
        XCTAssertThrowsError(try BackupPipeline(observers: []).read(path: cut)) { error in
            XCTAssertTrue(error is BackupReadError, "\(error)")
        }
        let gzip = try GzipCompressor()
        let damaged = try folder.write("d.json.gz", Array((gzip.compress(BackupFixtures.document().jsonBytes) + gzip.finish()).dropLast(6)))
        XCTAssertThrowsError(try BackupPipeline(observers: []).read(path: damaged)) { error in
            XCTAssertTrue(error is CompressionError, "\(error)")
        }
        struct Refused: Error {}
        XCTAssertThrowsError(try BackupPipeline(observers: [{ _ in throw Refused() }]).read(path: cut)) { error in
            XCTAssertTrue(error is Refused, "\(error)")
        }
    }

    /// `writeAll` writes every byte (at an offset with `pwrite`); `readChunks` reads back a range
    /// in chunks and says how much it found; a closed descriptor is an error with its errno.
    func testWriteAllAndReadChunks() throws {
        let path = folder.path("io")
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let bytes = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try FileDescriptorIO.writeAll(fd: fd, bytes)
        try FileDescriptorIO.writeAll(fd: fd, [1, 2, 3], at: 10)
        var expected = bytes
        expected.replaceSubrange(10..<13, with: [1, 2, 3])

        var all: [UInt8] = []
        var chunks = 0
        XCTAssertEqual(
            try FileDescriptorIO.readChunks(fd: fd, at: 0, chunkSize: 65_536) {
                all.append(contentsOf: $0)
                chunks += 1
            }, bytes.count)
        XCTAssertEqual(all, expected)
        XCTAssertEqual(chunks, 5)
        var range: [UInt8] = []
        XCTAssertEqual(try FileDescriptorIO.readChunks(fd: fd, at: 5, limit: 10, chunkSize: 4) { range.append(contentsOf: $0) }, 10)
        XCTAssertEqual(range, Array(expected[5..<15]))
        XCTAssertEqual(try FileDescriptorIO.readChunks(fd: fd, at: bytes.count - 3, limit: 10) { _ in }, 3, "the file ended first")
        close(fd)

        XCTAssertThrowsError(try FileDescriptorIO.writeAll(fd: fd, [1])) { error in
            XCTAssertEqual(error as? SystemCallError, SystemCallError(code: EBADF))
        }
    }
}
