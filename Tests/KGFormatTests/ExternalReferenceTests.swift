import Foundation
@testable import KGFormat
import XCTest

/// `IntegrityReport.externalReferences`: the instances and relationships of an
/// ontology backup that name concepts the file lacks (what a restore with
/// `--external-deps prune` drops when the database holds none of them), in
/// any section order.
final class ExternalReferenceTests: XCTestCase {
    typealias Sections = [(key: String, value: JSONValue)]

    /// An ontology backup with `extra` records appended to the fixture's sections;
    /// `dataFirst` lists the sections in reverse (relationships, instances, …, concepts last).
    private func ontology(_ extra: [(section: String, record: JSONValue)], dataFirst: Bool = false,
                          type: String = "ontology_backup") -> JSONValue {
        var sections: Sections = BackupFixtures.sections
        for (section, record) in extra {
            let i = sections.firstIndex { $0.key == section }!
            sections[i].value = .array(sections[i].value.arrayValue! + [record])
        }
        if dataFirst { sections.reverse() }
        return BackupFixtures.document(type: type, ontology: type == "ontology_backup" ? "Philosophy" : nil, sections: sections)
    }

    private func rel(_ from: String, _ to: String) -> (section: String, record: JSONValue) {
        ("relationships", BackupFixtures.relationship(from, to))
    }

    private func inst(_ id: String, _ concept: String) -> (section: String, record: JSONValue) {
        ("instances", BackupFixtures.instance(id, concept: concept, source: "s1"))
    }

    /// Checks `extra` concepts-first, data-first, and data-first read one byte at a time.
    private func assertCounts(_ extra: [(section: String, record: JSONValue)], deps: Int, instances: Int, relationships: Int,
                              file: StaticString = #filePath, line: UInt = #line) {
        for (label, doc, chunk) in [("concepts first", ontology(extra), Int.max),
                                    ("data first", ontology(extra, dataFirst: true), Int.max),
                                    ("data first, byte at a time", ontology(extra, dataFirst: true), 1)] {
            let report = check(doc, chunkSize: chunk)
            XCTAssertTrue(report.valid, "\(label): \(report.errors)", file: file, line: line)
            XCTAssertEqual(report.externalDeps, deps, label, file: file, line: line)
            XCTAssertEqual(report.externalReferences,
                           IntegrityReport.ExternalReferences(instances: instances, relationships: relationships), label,
                           file: file, line: line)
        }
    }

    func testNoExternalDependenciesCountNothing() {
        assertCounts([], deps: 0, instances: 0, relationships: 0)
    }

    func testOneEndMissing() {
        // From a defined concept to a missing one, and from a missing one to a defined one.
        assertCounts([rel("c1", "x1"), rel("x2", "c3")], deps: 2, instances: 0, relationships: 2)
    }

    func testBothEndsMissingCountsTheEdgeOnce() {
        assertCounts([rel("x1", "x2")], deps: 2, instances: 0, relationships: 1)
        assertCounts([rel("x1", "x1")], deps: 1, instances: 0, relationships: 1)  // a loop on a missing concept
    }

    func testAMissingConceptNamedByInstancesAndRelationships() {
        assertCounts([inst("i5", "x3"), inst("i6", "x3"), rel("x3", "c1"), rel("c2", "x3")],
                     deps: 1, instances: 2, relationships: 2)
    }

    func testEveryRecordCountsAsTheRestoreCountsRows() {
        // Identical edges are two rows, and so is an instance listed twice for one concept.
        assertCounts([rel("c1", "x1"), rel("c1", "x1"), rel("x1", "x2"), rel("x1", "x2"), inst("i7", "x1"), inst("i7", "x1")],
                     deps: 2, instances: 2, relationships: 4)
    }

    func testEdgesWhoseEndsAreDefinedLaterAreNotCounted() {
        // Data first: when these edges are read no concept is defined yet; at the end
        // c1→c2 has both ends, c1→x1 and x1→c2 one missing end, x1→x2 two.
        let edges = [rel("c1", "c2"), rel("c1", "x1"), rel("x1", "c2"), rel("x1", "x2"), rel("c3", "c1")]
        assertCounts(edges, deps: 2, instances: 0, relationships: 3)
    }

    func testAMix() {
        let extra = [inst("i5", "x3"), rel("c1", "x1"), rel("c2", "x1"), rel("c2", "x2"), rel("x1", "x2"), rel("x1", "x1"),
                     rel("c3", "x3"), inst("i6", "x4"), inst("i6", "c1")]
        assertCounts(extra, deps: 4, instances: 2, relationships: 6)
    }

    func testAFullBackupReportsErrorsAndNoExternalReferences() {
        for dataFirst in [false, true] {
            var doc = ontology([rel("c1", "x1"), inst("i5", "x2")], dataFirst: dataFirst, type: "full_backup")
            doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
            let report = check(doc)
            XCTAssertFalse(report.valid)
            XCTAssertEqual(report.errors.map(\.message).sorted(), [
                "instance i5 names concept x2, which the file does not contain",
                "relationship c1 -[IMPLIES]-> x1 (data.relationships[3]) names concept x1, which the file does not contain",
            ])
            XCTAssertEqual(report.externalDeps, 0)
            XCTAssertEqual(report.externalReferences, .none)
            XCTAssertEqual(report.jsonValue["external_references"], ["instances": 0, "relationships": 0])
        }
    }

    /// Random files, in random section order, against a count over the whole file held in memory.
    func testRandomFilesAgreeWithABruteForceCount() {
        var rng = SeededGenerator(seed: 0x5EED_E47E)
        for round in 0..<200 {
            let defined = (0..<Int.random(in: 0...6, using: &rng)).map { "c\($0)" }
            let pool = defined + (0..<Int.random(in: 1...6, using: &rng)).map { "x\($0)" }
            let concepts = JSONValue.array(defined.map(BackupFixtures.concept))
            let instances = (0..<Int.random(in: 0...8, using: &rng)).map { i in
                BackupFixtures.instance("i\(i)", concept: pool.randomElement(using: &rng)!, source: "s1")
            }
            let relationships = (0..<Int.random(in: 0...12, using: &rng)).map { _ in
                BackupFixtures.relationship(pool.randomElement(using: &rng)!, pool.randomElement(using: &rng)!)
            }
            var sections: Sections = [(key: "concepts", value: concepts), (key: "sources", value: [BackupFixtures.source("s1")]),
                                      (key: "instances", value: .array(instances)), (key: "relationships", value: .array(relationships))]
            sections.shuffle(using: &rng)
            let doc = BackupFixtures.document(type: "ontology_backup", ontology: "P", sections: sections)

            let known = Set(defined)
            let expectInstances = instances.filter { !known.contains($0["concept_id"]!.stringValue!) }.count
            let expectRelationships = relationships.filter {
                !known.contains($0["from"]!.stringValue!) || !known.contains($0["to"]!.stringValue!)
            }.count
            let named = Set(instances.map { $0["concept_id"]!.stringValue! }
                            + relationships.flatMap { [$0["from"]!.stringValue!, $0["to"]!.stringValue!] })
            let report = check(doc, chunkSize: Int.random(in: 1...64, using: &rng))
            XCTAssertEqual(report.externalDeps, named.subtracting(known).count, "round \(round)")
            XCTAssertEqual(report.externalReferences,
                           IntegrityReport.ExternalReferences(instances: expectInstances, relationships: expectRelationships),
                           "round \(round): \(doc.jsonText)")
        }
    }

    /// Past the pair cap, memory stops growing: new pairs are only counted, and
    /// the relationship count becomes a range that holds the true figure; the
    /// report says so in JSON (`relationships_at_most`) and in the text.
    func testPastThePairCapTheCountIsARangeThatHoldsTheTruth() {
        var refs = UnresolvedConceptReferences(maxPairs: 3)
        // Ten distinct pairs x_i -> y_i, each both ends unresolved when read.
        for i in 0..<10 {
            refs.relationship(from: "x\(i)", fromUnresolved: true, to: "y\(i)", toUnresolved: true, referrer: "r")
            refs.relationship(from: "x\(i)", fromUnresolved: true, to: "y\(i)", toUnresolved: true, referrer: "r")
        }
        XCTAssertEqual(refs.pairCount, 3, "the map stops at the cap")
        // Half the pairs end up with both ends defined: 5 pairs, 10 edges dangle.
        let defined = Set((0..<10).filter { $0 % 2 == 0 }.flatMap { ["x\($0)", "y\($0)"] })
        let outcome = refs.outcome(defined: defined)
        let truth = 10
        XCTAssertLessThanOrEqual(outcome.relationships, truth)
        let most = try? XCTUnwrap(outcome.relationshipsAtMost)
        XCTAssertGreaterThanOrEqual(most ?? 0, truth)
        XCTAssertEqual(outcome.relationships, 2, "pairs 0..2 kept: only pair 1 dangles, 2 edges")
        XCTAssertEqual(most, 2 + 14, "14 edges of uncounted pairs")
        // Under the cap the count stays exact.
        var exact = UnresolvedConceptReferences(maxPairs: 100)
        for i in 0..<10 {
            exact.relationship(from: "x\(i)", fromUnresolved: true, to: "y\(i)", toUnresolved: true, referrer: "r")
        }
        XCTAssertNil(exact.outcome(defined: defined).relationshipsAtMost)
        XCTAssertEqual(exact.outcome(defined: defined).relationships, 5)

        let report = IntegrityReport(errors: [], warnings: [], info: [], externalDeps: 10,
                                     externalReferences: .init(instances: 0, relationships: 2, relationshipsAtMost: 16),
                                     statistics: nil, counts: [:], backupType: "ontology_backup", ontology: "o",
                                     version: "1.0", schemaVersion: 6, producer: nil, timestamp: nil)
        XCTAssertTrue(report.jsonText().contains(#""external_references":{"instances":0,"relationships":2,"relationships_at_most":16}"#),
                      report.jsonText())
        XCTAssertTrue(report.renderText().contains("named by 2 to 16 relationships"), report.renderText())
    }

    /// A file on disk past the pair cap: the in-memory check gives a range, the
    /// file check reads the file a second time and gives the exact counts.
    func testAFileOnDiskPastTheCapIsCountedExactlyInASecondPass() throws {
        // Data first: every edge's ends are unresolved when read. 6 edges between
        // defined concepts (c1..c3), 4 with one missing end, 3 between missing ones.
        var extra: [(section: String, record: JSONValue)] = []
        for (a, b) in [("c1", "c2"), ("c2", "c3"), ("c3", "c1"), ("c2", "c1"), ("c3", "c2"), ("c1", "c3")] { extra.append(rel(a, b)) }
        for (a, b) in [("c1", "m1"), ("m2", "c2"), ("c3", "m3"), ("m4", "c1")] { extra.append(rel(a, b)) }
        for (a, b) in [("m5", "m6"), ("m6", "m5"), ("m7", "m7")] { extra.append(rel(a, b)) }
        extra.append(inst("i-missing", "m1"))
        let doc = ontology(extra, dataFirst: true)
        let path = NSTemporaryDirectory() + "kg-recount-\(UUID().uuidString).json"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(doc.jsonBytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let inMemory = IntegrityChecker(maxPairs: 3)
        inMemory.feed(doc.jsonBytes)
        let range = inMemory.finish().externalReferences
        let most = try XCTUnwrap(range.relationshipsAtMost, "the cap of 3 pairs is passed")
        XCTAssertLessThanOrEqual(range.relationships, 7)
        XCTAssertGreaterThanOrEqual(most, 7)

        let exact = BackupFileChecker.check(path: path, maxDecompressedBytes: nil, limits: BackupReaderLimits(), maxPairs: 3)
        XCTAssertEqual(exact.externalReferences, IntegrityReport.ExternalReferences(instances: 1, relationships: 7))
        XCTAssertEqual(exact.externalDeps, 7)
        XCTAssertTrue(exact.valid)
        // Under the cap, one pass, the same exact figures.
        XCTAssertEqual(BackupFileChecker.check(path: path).externalReferences, IntegrityReport.ExternalReferences(instances: 1, relationships: 7))
    }

    /// The only state that is not per id: edges whose two ends were unresolved
    /// when read, kept per distinct pair, so repeating edges adds nothing.
    func testPairsAreKeptPerDistinctPairNotPerRecord() {
        var refs = UnresolvedConceptReferences()
        for _ in 0..<10_000 {
            refs.relationship(from: "a", fromUnresolved: true, to: "b", toUnresolved: true, referrer: "r")
            refs.relationship(from: "b", fromUnresolved: true, to: "a", toUnresolved: true, referrer: "r")
            refs.relationship(from: "a", fromUnresolved: true, to: "c", toUnresolved: false, referrer: "r")
            refs.instance(names: "b", referrer: "r")
        }
        XCTAssertEqual(refs.pairCount, 2)
        XCTAssertEqual(refs.concepts.count, 2)
        let outcome = refs.outcome(defined: ["a"])
        XCTAssertEqual(outcome.missing.map(\.id), ["b"])
        XCTAssertEqual(outcome.instances, 10_000)
        XCTAssertEqual(outcome.relationships, 20_000)  // a→c resolved; a↔b dangle through b
        XCTAssertEqual(refs.outcome(defined: ["b"]).relationships, 30_000)
        XCTAssertEqual(refs.outcome(defined: ["a", "b"]).relationships, 0)
    }

    func testJSONCarriesTheCountsAfterTheContractsKeys() throws {
        let report = check(ontology([inst("i5", "x3"), rel("c1", "x1"), rel("x1", "x2")]))
        let json = report.jsonValue
        XCTAssertEqual(Array((json.objectMembers ?? []).map(\.key).prefix(7)),
                       ["valid", "errors", "warnings", "info", "external_deps", "statistics", "external_references"])
        XCTAssertEqual(json["external_deps"], 3)
        XCTAssertEqual(json["external_references"], ["instances": 1, "relationships": 2])
        let decoded = try JSONDecoder().decode(IntegrityReport.self, from: JSONEncoder().encode(report))
        XCTAssertEqual(decoded.externalReferences, report.externalReferences)
    }

    func testTextSaysWhatEachStrategyDoes() {
        let text = check(ontology([inst("i5", "x3"), rel("c1", "x1"), rel("x1", "x2")])).renderText()
        XCTAssertTrue(text.contains("\nexternal dependencies: 3 concepts, named by 1 instance and 2 relationships\n"), text)
        XCTAssertTrue(text.contains("  the rest, at most 1 instance and 2 relationships, under --external-deps:\n"), text)
        for strategy in ["prune (default): dropped", "fail: the restore is refused", "defer: kept aside", "stitch: kept aside"] {
            XCTAssertTrue(text.contains("\n    \(strategy)"), "\(strategy): \(text)")
        }
        let edgesOnly = check(ontology([rel("c1", "x1")])).renderText()
        XCTAssertTrue(edgesOnly.contains("\nexternal dependencies: 1 concept, named by 1 relationship\n"), edgesOnly)
        XCTAssertFalse(check(BackupFixtures.document()).renderText().contains("external"))
    }
}
