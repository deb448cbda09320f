import KGFormat
import KGTestSupport
import XCTest

@testable import KGCLI

/// The download's check on a thread of its own must judge every file as the check on the
/// receiving thread does: same bytes, same order, same report, whatever the chunks.
final class CheckThreadTests: XCTestCase {
    /// A valid full backup of `concepts` concepts (several MiB for 20 k: many blocks and a full queue).
    static func backup(concepts: Int, brokenReference: Bool = false) -> [UInt8] {
        var text = """
            {"version":"1.0","type":"full_backup","timestamp":"2024-05-01T10:00:00.123Z","ontology":null,\
            "schema_version":7,"producer":{"name":"kg","version":"0.1.0"},\
            "statistics":{"concepts":\(concepts),"sources":0,"instances":0,"relationships":\(concepts - 1),"vocabulary":1},"data":{\
            "vocabulary":[{"relationship_type":"IMPLIES","description":"d","category":"logical_truth",\
            "is_builtin":true,"is_active":true,"synonyms":null,"embedding":null}],"concepts":[
            """
        for i in 0..<concepts {
            if i > 0 { text += "," }
            text += #"{"concept_id":"c\#(i)","label":"Label \#(i) “quoted” 🧠","search_terms":["t"],"embedding":[0.125,-1.5e-3,\#(i)]}"#
        }
        text += "],\"sources\":[],\"instances\":[],\"relationships\":["
        for i in 1..<concepts {
            if i > 1 { text += "," }
            let to = brokenReference && i == concepts / 2 ? "missing" : "c\(i)"
            text += #"{"from":"c\#(i - 1)","to":"\#(to)","type":"IMPLIES","properties":{"confidence":0.9}}"#
        }
        text += "]}}"
        return Array(text.utf8)
    }

    /// Feeds `bytes` in chunks of sizes drawn from `generator` (1 byte to 100 KiB).
    static func feedInChunks(_ bytes: [UInt8], _ feed: (UnsafeRawBufferPointer) -> Void, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var start = 0
        bytes.withUnsafeBytes { all in
            while start < all.count {
                let size = [1, 7, 4096, 16384, 100_000].randomElement(using: &generator)!
                let end = min(all.count, start + size)
                feed(UnsafeRawBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
    }

    func report(of bytes: [UInt8], threaded: Bool, seed: UInt64 = 1) -> IntegrityReport {
        if threaded {
            let check = CheckThread(IntegrityChecker())
            Self.feedInChunks(bytes, { check.feed($0) }, seed: seed)
            return check.finish()
        }
        let checker = IntegrityChecker()
        Self.feedInChunks(bytes, { checker.feed($0) }, seed: seed)
        return checker.finish()
    }

    func testAValidFileGetsTheSameReportOnItsOwnThread() {
        let bytes = Self.backup(concepts: 50_000)
        XCTAssertGreaterThan(bytes.count, 2 * CheckThread.queuedBlocks * CheckThread.blockBytes, "more than the queue holds")
        let direct = report(of: bytes, threaded: false)
        XCTAssertTrue(direct.valid, direct.renderText())
        XCTAssertEqual(direct.counts["concepts"], 50_000)
        for seed in 1...2 as ClosedRange<UInt64> {
            let threaded = report(of: bytes, threaded: true, seed: seed)
            XCTAssertEqual(threaded.jsonText(), direct.jsonText(), "seed \(seed)")
        }
    }

    func testAnInvalidFileIsRefusedTheSame() {
        let broken = Self.backup(concepts: 5_000, brokenReference: true)
        let direct = report(of: broken, threaded: false)
        XCTAssertFalse(direct.valid)
        let threaded = report(of: broken, threaded: true)
        XCTAssertFalse(threaded.valid)
        XCTAssertEqual(threaded.renderText(), direct.renderText())

        // Cut short: the last bytes never came.
        let cut = Array(Self.backup(concepts: 5_000).dropLast(100))
        let cutReport = report(of: cut, threaded: true)
        XCTAssertFalse(cutReport.valid)
        XCTAssertEqual(cutReport.renderText(), report(of: cut, threaded: false).renderText())
    }

    func testAnEmptyDownloadIsNotValid() {
        let check = CheckThread(IntegrityChecker())
        XCTAssertFalse(check.finish().valid)
        XCTAssertFalse(check.finish().valid, "a second finish returns the same report")
    }

    /// A failed download abandons the check: the thread ends even with a full queue, and a
    /// producer that feeds after that does not wait for it.
    func testAbandonEndsTheThreadWithoutWaitingForTheQueue() {
        let bytes = Self.backup(concepts: 50_000)
        let check = CheckThread(IntegrityChecker())
        bytes.withUnsafeBytes { check.feed(UnsafeRawBufferPointer(rebasing: $0[..<($0.count / 2)])) }
        check.abandon()
        check.abandon()
        let finished = expectation(description: "feeding after abandon returns")
        DispatchQueue.global().async {
            bytes.withUnsafeBytes { check.feed($0) }
            finished.fulfill()
        }
        wait(for: [finished], timeout: 30)
    }
}
