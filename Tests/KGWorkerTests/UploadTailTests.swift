import Foundation
import XCTest

@testable import KGWorker

/// ``UploadTail``: a pipelined restore's read of an upload that is still arriving. A real file
/// appended to by another thread; the gate's answers (the job row's, in a worker) are given here.
final class UploadTailTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "/upload-tail-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A gate whose answers are fixed, counting the times the restore asked to give up.
    private final class Gate: @unchecked Sendable {
        var acceptedPath: String?
        var givesUp = true
        var giveUps = 0

        func make(stall: Double) -> UploadGate {
            UploadGate(
                accepted: { self.acceptedPath },
                giveUp: {
                    self.giveUps += 1
                    return self.givesUp
                }, onAccepted: { _ in }, stallSeconds: stall)
        }
    }

    private static func append(_ path: String, _ bytes: [UInt8]) {
        let handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
        handle.write(Data(bytes))
        try? handle.close()
    }

    func testReadsAGrowingFileToItsDeclaredLengthAndSaysWhenItWaits() throws {
        let path = directory + "/upload.data"
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(content[0..<1000]))
        let writer = Thread {
            var at = 1000
            while at < content.count {
                usleep(20_000)
                let end = min(content.count, at + 70_000)
                Self.append(path, Array(content[at..<end]))
                at = end
            }
            // Bytes past the declared length are never read.
            Self.append(path, [1, 2, 3])
        }
        writer.start()
        var tail = UploadTail(path: path, length: content.count, gate: Gate().make(stall: 10)) {}
        var waits: [(Int, Bool)] = []
        tail.onWait = { read, first in waits.append((read, first)) }
        var read: [UInt8] = []
        let total = try tail.read(chunkSize: 64 * 1024) { read.append(contentsOf: $0) }
        XCTAssertEqual(total, content.count)
        XCTAssertEqual(read, content, "every byte, in order, and none past the length")
        XCTAssertGreaterThan(waits.count, 1, "it caught up with the writer and waited")
        XCTAssertEqual(waits.first?.1, true)
        XCTAssertEqual(waits.dropFirst().filter(\.1).count, 0, "only the first wait is the first")
    }

    func testAStalledUploadIsGivenUp() throws {
        let path = directory + "/upload.data"
        _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
        let gate = Gate()
        let tail = UploadTail(path: path, length: 10, gate: gate.make(stall: 0.3)) {}
        XCTAssertThrowsError(try tail.read { _ in }) { error in
            let stalled = error as? UploadTail.Stalled
            XCTAssertNotNil(stalled, "\(error)")
            XCTAssertTrue(stalled?.description.contains("stopped arriving at byte 3 of 10") == true, "\(error)")
        }
        XCTAssertEqual(gate.giveUps, 1)
    }

    func testAStallThatTheGatewayAcceptedMeanwhileGoesOn() throws {
        let path = directory + "/upload.data"
        _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
        let gate = Gate()
        gate.givesUp = false  // the guarded update found the upload accepted
        let tail = UploadTail(path: path, length: 6, gate: gate.make(stall: 0.2)) {}
        let writer = Thread {
            usleep(500_000)
            Self.append(path, [4, 5, 6])
        }
        writer.start()
        var read: [UInt8] = []
        try tail.read { read.append(contentsOf: $0) }
        XCTAssertEqual(read, [1, 2, 3, 4, 5, 6])
        XCTAssertGreaterThanOrEqual(gate.giveUps, 1)
    }

    func testAnAbandonedUploadEndsTheRead() throws {
        let path = directory + "/upload.data"
        _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
        let tail = UploadTail(path: path, length: 10, gate: Gate().make(stall: 30)) {}
        let remover = Thread {
            usleep(200_000)
            unlink(path)
        }
        remover.start()
        let started = Date()
        XCTAssertThrowsError(try tail.read { _ in }) { error in
            XCTAssertTrue("\(error)".contains("abandoned or expired at byte 3 of 10"), "\(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "not the stall time")
    }

    func testACancelledJobStopsWaiting() throws {
        let path = directory + "/upload.data"
        _ = FileManager.default.createFile(atPath: path, contents: Data([1, 2, 3]))
        let tail = UploadTail(path: path, length: 10, gate: Gate().make(stall: 30)) { throw JobFailure(.cancelled, "cancelled by alice") }
        XCTAssertThrowsError(try tail.read { _ in }) { error in
            XCTAssertEqual((error as? JobFailure)?.kind, .cancelled)
        }
    }

    func testAFileAcceptedBeforeTheReadIsFoundUnderItsNewName() throws {
        let moved = directory + "/restore_job.json"
        _ = FileManager.default.createFile(atPath: moved, contents: Data([9, 8, 7]))
        let gate = Gate()
        gate.acceptedPath = moved
        let tail = UploadTail(path: directory + "/upload.data", length: 3, gate: gate.make(stall: 1)) {}
        var read: [UInt8] = []
        try tail.read { read.append(contentsOf: $0) }
        XCTAssertEqual(read, [9, 8, 7])
    }
}
