import KGTestSupport
import Foundation
@testable import KGFormat
import XCTest

/// The id checks' external sort (`IDLedger`): exact keys, the same order whether
/// it spills or not, its temp file gone from the folder at once, and a clear
/// failure when temp storage refuses it.
final class IDLedgerTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "kg-ledger-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Ids that differ only where a prefix or a packing could lose the difference.
    static let trickyIDs: [String] = [
        "3f2a9c1e-0b4d-4e8f-9a7b-1c2d3e4f5a6b",  // canonical lower-case UUID: packed
        "3F2A9C1E-0B4D-4E8F-9A7B-1C2D3E4F5A6B",  // the same in upper case: a different id, packed apart
        "3f2a9c1e-0B4D-4e8f-9a7b-1c2d3e4f5a6b",  // mixed case: kept as text
        "3f2a9c1e-0b4d-4e8f-9a7b-1c2d3e4f5a6c",  // differs in the last digit
        "12345678-1234-1234-1234-123456789012",  // digits only
        "3f2a9c1e_0b4d_4e8f_9a7b_1c2d3e4f5a6b",  // 36 characters, not a UUID
        "concept_0000000001", "concept_0000000002", "concept_00000000010",  // one 8-byte prefix
        "concept_", "concept_\u{0}", "c", "é", "e\u{301}",  // short, NUL, composed vs decomposed
        String(repeating: "x", count: 70_000) + "1", String(repeating: "x", count: 70_000) + "2",  // long, one prefix
    ]

    func testKeysAreExactAndDecodeToTheID() {
        let ledger = IDLedger(budgetBytes: 1, directory: directory)
        for (i, id) in Self.trickyIDs.enumerated() {
            ledger.append(IDFacts.concept, id, kind: 0, seq: UInt64(i))
            ledger.append(IDFacts.concept, id, kind: 1, seq: UInt64(100 + i))
        }
        var groups: [[String]] = []
        ledger.forEachSorted { entry, newKey in
            if newKey { groups.append([]) }
            groups[groups.count - 1].append(entry.id)
            return true
        }
        XCTAssertEqual(groups.count, Self.trickyIDs.count, "one group per distinct id")
        XCTAssertTrue(groups.allSatisfy { $0.count == 2 && $0[0] == $0[1] })
        XCTAssertEqual(Set(groups.map { $0[0] }), Set(Self.trickyIDs), "every key decodes to its id")
        XCTAssertGreaterThan(ledger.runCount, 10, "spilled a run per entry")
    }

    /// Random facts over ids sharing prefixes: every budget visits the same
    /// entries in the same order, each id's facts together, sorted by kind then seq.
    func testSpilledRunsMergeToTheInMemoryOrder() {
        var rng = SeededGenerator(seed: 0x1ED6E5)
        let pool = Self.trickyIDs + (0..<300).map { "concept_\(String(format: "%010d", $0))" }
        var facts: [(id: String, kind: UInt8, seq: UInt64)] = []
        for seq in 0..<3_000 {
            facts.append((pool.randomElement(using: &rng)!, UInt8.random(in: 0...3, using: &rng), UInt64(seq)))
        }
        facts.shuffle(using: &rng)
        var visits: [[String]] = []
        for budget in [1, 500, 64 << 10, 64 << 20] {
            let ledger = IDLedger(budgetBytes: budget, directory: directory)
            for fact in facts { ledger.append(IDFacts.concept, fact.id, kind: fact.kind, seq: fact.seq, a: fact.seq &* 3, b: 7) }
            // Ids by their bytes: Swift's String equality would make "é" and "e\u{301}" one id.
            var seen: [String] = []
            var byID: [[UInt8]: [(UInt8, UInt64)]] = [:]
            var closed: Set<[UInt8]> = []
            var current: [UInt8] = []
            ledger.forEachSorted { entry, newKey in
                let id = Array(entry.id.utf8)
                if newKey {
                    XCTAssertFalse(closed.contains(id), "\(entry.id.prefix(40)) comes in one group")
                    closed.insert(current)
                    current = id
                } else {
                    XCTAssertEqual(id, current)
                }
                XCTAssertEqual(entry.a, entry.seq &* 3)
                XCTAssertEqual(entry.b, 7)
                byID[id, default: []].append((entry.kind, entry.seq))
                seen.append("\(id.prefix(40))|\(id.count)|\(entry.kind)|\(entry.seq)")  // bytes, printed
                return true
            }
            XCTAssertEqual(seen.count, facts.count, "budget \(budget)")
            for (id, entries) in byID {
                let expected = facts.filter { Array($0.id.utf8) == id }.map { ($0.kind, $0.seq) }.sorted { $0 < $1 }
                XCTAssertTrue(
                    entries.elementsEqual(expected, by: { $0 == $1 }), "budget \(budget): \(String(decoding: id.prefix(40), as: UTF8.self))")
            }
            visits.append(seen)
        }
        XCTAssertTrue(visits.allSatisfy { $0 == visits[0] })
    }

    func testTheTempFileLeavesNoNameBehind() throws {
        let ledger = IDLedger(budgetBytes: 64, directory: directory)
        for i in 0..<1_000 { ledger.append(IDFacts.source, "s\(i)", kind: 0, seq: UInt64(i)) }
        XCTAssertGreaterThan(ledger.runCount, 1)
        XCTAssertGreaterThan(ledger.spilledBytes, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "unlinked as soon as created")
        var count = 0
        ledger.forEachSorted { _, _ in
            count += 1
            return true
        }
        XCTAssertEqual(count, 1_000)
    }

    /// Past the budget with nowhere to spill: an error that says so and what to do, not a guess.
    func testTempStorageThatRefusesIsAClearError() {
        let checker = IntegrityChecker(idMemoryBytes: 1, tempDirectory: directory + "/missing/folder")
        checker.feed(BackupFixtures.document().jsonBytes)
        let report = checker.finish()
        XCTAssertFalse(report.valid)
        XCTAssertTrue(
            report.errors.contains { $0.message.contains("temp storage") && $0.message.contains("missing/folder") },
            "\(report.errors)")
        // With memory enough, the same file is valid: nothing was spilled.
        let roomy = IntegrityChecker(idMemoryBytes: 1 << 20, tempDirectory: directory + "/missing/folder")
        roomy.feed(BackupFixtures.document().jsonBytes)
        XCTAssertTrue(roomy.finish().valid)
    }

    /// Duplicates and missing references among ids crafted to collide in a prefix
    /// or a case-folded packing: found exactly, spilled or not (`check` compares both).
    func testFindingsAmongTrickyIDsAreExact() {
        let ids = Self.trickyIDs.filter { $0.count < 100 }
        var sections = BackupFixtures.sections
        let defined = ids.filter { !$0.hasSuffix("2") }  // the ids ending in 2 stay undefined
        sections[1].value = .array(
            sections[1].value.arrayValue! + defined.map(BackupFixtures.concept)
                + [BackupFixtures.concept(ids[0]), BackupFixtures.concept("c")])  // two duplicates
        sections[4].value = .array(sections[4].value.arrayValue! + ids.map { BackupFixtures.relationship("c1", $0) })
        let report = check(BackupFixtures.document(sections: sections))
        let duplicates = report.errors.map(\.message).filter { $0.contains("defined more than once") }
        XCTAssertEqual(
            duplicates,
            [
                "concept \(ids[0]) is defined more than once (again at data.concepts[\(3 + defined.count)]); a restore cannot load both",
                "concept c is defined more than once (again at data.concepts[\(4 + defined.count)]); a restore cannot load both",
            ])
        let missing = report.errors.map(\.message).filter { $0.contains("does not contain") }
        let undefined = ids.filter { $0.hasSuffix("2") }
        XCTAssertEqual(
            missing,
            undefined.map { id in
                let index = 3 + ids.firstIndex(of: id)!
                return "relationship c1 -[IMPLIES]-> \(id) (data.relationships[\(index)]) names concept \(id), which the file does not contain"
            })
    }
}
