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
    /// A byte flipped inside a compressed file is named as the stream's damage, never as the
    /// invalid JSON it happens to decode to first; an intact stream of invalid JSON is still
    /// refused as JSON. Both ways of reading (a file, chunks fed by a caller) say the same.
    func testDamagedCompressionIsNamedAsSuchNotAsTheJSONItDecodesTo() throws {
        // Enough numbers that a flip lands in literal digits the decoder passes on unnoticed.
        var random = SeededGenerator(seed: 17)
        let numbers = (0..<24_000).map { _ in "0.\(1_000_000_000_000_000 + random.next() % 8_999_999_999_999_999)" }.joined(separator: ",")
        let document = Array(#"{"version": "1.0", "type": "full_backup", "pad": [\#(numbers)], "data": {"concepts": []}}"#.utf8)
        func compressed(_ bytes: [UInt8], zstd: Bool) throws -> [UInt8] {
            if zstd {
                let c = try ZstdCompressor()
                return c.compress(bytes) + c.finish()
            }
            let c = try GzipCompressor()
            return c.compress(bytes) + c.finish()
        }
        func outcome(_ bytes: [UInt8], viaFile: Bool) -> Error? {
            let pipeline = BackupPipeline(observers: [{ _ in }])
            do {
                if viaFile {
                    try pipeline.read(path: try folder.write("f", bytes), chunkSize: 4096)
                } else {
                    for start in stride(from: 0, to: bytes.count, by: 4096) {
                        try pipeline.feed(Array(bytes[start..<min(start + 4096, bytes.count)]))
                    }
                    try pipeline.finish()
                }
                return nil
            } catch {
                return error
            }
        }
        for zstd in [true, false] {
            let intact = try compressed(document, zstd: zstd)
            for fraction in stride(from: 0.2, to: 0.9, by: 0.05) {
                var damaged = intact
                damaged[Int(Double(damaged.count) * fraction)] ^= 0xFF
                for viaFile in [true, false] {
                    let error = outcome(damaged, viaFile: viaFile)
                    XCTAssertTrue(error is CompressionError, "zstd \(zstd), flip at \(fraction): \(String(describing: error))")
                }
            }
            let invalid = try compressed(Array(#"{"version": "1.0", "data": [tru]}"#.utf8), zstd: zstd)
            for viaFile in [true, false] {
                XCTAssertTrue(outcome(invalid, viaFile: viaFile) is BackupReadError, "intact \(zstd ? "zstd" : "gzip") of invalid JSON")
            }
        }
    }

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
