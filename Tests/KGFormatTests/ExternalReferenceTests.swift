import KGTestSupport
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
    private func ontology(
        _ extra: [(section: String, record: JSONValue)], dataFirst: Bool = false,
        type: String = "ontology_backup"
    ) -> JSONValue {
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
    private func assertCounts(
        _ extra: [(section: String, record: JSONValue)], deps: Int, instances: Int, relationships: Int,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        for (label, doc, chunk) in [
            ("concepts first", ontology(extra), Int.max),
            ("data first", ontology(extra, dataFirst: true), Int.max),
            ("data first, byte at a time", ontology(extra, dataFirst: true), 1),
        ] {
            let report = check(doc, chunkSize: chunk)
            XCTAssertTrue(report.valid, "\(label): \(report.errors)", file: file, line: line)
            XCTAssertEqual(report.externalDeps, deps, label, file: file, line: line)
            XCTAssertEqual(
                report.externalReferences,
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
        assertCounts(
            [inst("i5", "x3"), inst("i6", "x3"), rel("x3", "c1"), rel("c2", "x3")],
            deps: 1, instances: 2, relationships: 2)
    }

    func testEveryRecordCountsAsTheRestoreCountsRows() {
        // Identical edges are two rows, and so is an instance listed twice for one concept.
        assertCounts(
            [rel("c1", "x1"), rel("c1", "x1"), rel("x1", "x2"), rel("x1", "x2"), inst("i7", "x1"), inst("i7", "x1")],
            deps: 2, instances: 2, relationships: 4)
    }

    func testEdgesWhoseEndsAreDefinedLaterAreNotCounted() {
        // Data first: when these edges are read no concept is defined yet; at the end
        // c1→c2 has both ends, c1→x1 and x1→c2 one missing end, x1→x2 two.
        let edges = [rel("c1", "c2"), rel("c1", "x1"), rel("x1", "c2"), rel("x1", "x2"), rel("c3", "c1")]
        assertCounts(edges, deps: 2, instances: 0, relationships: 3)
    }

    func testAMix() {
        let extra = [
            inst("i5", "x3"), rel("c1", "x1"), rel("c2", "x1"), rel("c2", "x2"), rel("x1", "x2"), rel("x1", "x1"),
            rel("c3", "x3"), inst("i6", "x4"), inst("i6", "c1"),
        ]
        assertCounts(extra, deps: 4, instances: 2, relationships: 6)
    }

    func testAFullBackupReportsErrorsAndNoExternalReferences() {
        for dataFirst in [false, true] {
            var doc = ontology([rel("c1", "x1"), inst("i5", "x2")], dataFirst: dataFirst, type: "full_backup")
            doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
            let report = check(doc)
            XCTAssertFalse(report.valid)
            XCTAssertEqual(
                report.errors.map(\.message).sorted(),
                [
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
            var sections: Sections = [
                (key: "concepts", value: concepts), (key: "sources", value: [BackupFixtures.source("s1")]),
                (key: "instances", value: .array(instances)), (key: "relationships", value: .array(relationships)),
            ]
            sections.shuffle(using: &rng)
            let doc = BackupFixtures.document(type: "ontology_backup", ontology: "P", sections: sections)

            let known = Set(defined)
            let expectInstances = instances.filter { !known.contains($0["concept_id"]!.stringValue!) }.count
            let expectRelationships = relationships.filter {
                !known.contains($0["from"]!.stringValue!) || !known.contains($0["to"]!.stringValue!)
            }.count
            let named = Set(
                instances.map { $0["concept_id"]!.stringValue! }
                    + relationships.flatMap { [$0["from"]!.stringValue!, $0["to"]!.stringValue!] })
            let report = check(doc, chunkSize: Int.random(in: 1...64, using: &rng))
            XCTAssertEqual(report.externalDeps, named.subtracting(known).count, "round \(round)")
            XCTAssertEqual(
                report.externalReferences,
                IntegrityReport.ExternalReferences(instances: expectInstances, relationships: expectRelationships),
                "round \(round): \(doc.jsonText)")
        }
    }

    /// A report from a gateway of an earlier version may carry a range
    /// (`relationships_at_most`); this one always counts exactly, but still shows one.
    func testARangeFromAnEarlierGatewayIsShown() {
        let report = IntegrityReport(
            errors: [], warnings: [], info: [], externalDeps: 10,
            externalReferences: .init(instances: 0, relationships: 2, relationshipsAtMost: 16),
            statistics: nil, counts: [:], backupType: "ontology_backup", ontology: "o",
            version: "1.0", schemaVersion: 6, producer: nil, timestamp: nil)
        XCTAssertTrue(
            report.jsonText().contains(#""external_references":{"instances":0,"relationships":2,"relationships_at_most":16}"#),
            report.jsonText())
        XCTAssertTrue(report.renderText().contains("named by 2 to 16 relationships"), report.renderText())
    }

    /// Data first, many distinct pairs of unresolved ends (the case that used to
    /// turn into a range past 524,288 pairs): with the id checks spilled to disk
    /// after every fact, the counts are exact, in memory as on disk.
    func testDataFirstCountsAreExactWhateverTheMemoryBudget() throws {
        // 6 edges between defined concepts (c1..c3), 4 with one missing end, 3 between missing ones,
        // and 200 more between distinct missing pairs.
        var extra: [(section: String, record: JSONValue)] = []
        for (a, b) in [("c1", "c2"), ("c2", "c3"), ("c3", "c1"), ("c2", "c1"), ("c3", "c2"), ("c1", "c3")] { extra.append(rel(a, b)) }
        for (a, b) in [("c1", "m1"), ("m2", "c2"), ("c3", "m3"), ("m4", "c1")] { extra.append(rel(a, b)) }
        for (a, b) in [("m5", "m6"), ("m6", "m5"), ("m7", "m7")] { extra.append(rel(a, b)) }
        for i in 0..<200 { extra.append(rel("p\(i)", "q\(i)")) }
        extra.append(inst("i-missing", "m1"))
        let doc = ontology(extra, dataFirst: true)
        let path = NSTemporaryDirectory() + "kg-exact-\(UUID().uuidString).json"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(doc.jsonBytes)))
        defer { try? FileManager.default.removeItem(atPath: path) }

        let expected = IntegrityReport.ExternalReferences(instances: 1, relationships: 207)
        for budget in [1, 100, 4096, IntegrityChecker.defaultIDMemoryBytes] {
            let checker = IntegrityChecker(idMemoryBytes: budget)
            checker.feed(doc.jsonBytes)
            let report = checker.finish()
            XCTAssertEqual(report.externalReferences, expected, "budget \(budget)")
            XCTAssertNil(report.externalReferences.relationshipsAtMost)
            XCTAssertEqual(report.externalDeps, 7 + 400, "budget \(budget)")
            XCTAssertTrue(report.valid)
            let fromFile = BackupFileChecker.check(path: path, idMemoryBytes: budget)
            XCTAssertEqual(fromFile.jsonText(), report.jsonText(), "budget \(budget)")
        }
    }

    func testJSONCarriesTheCountsAfterTheContractsKeys() throws {
        let report = check(ontology([inst("i5", "x3"), rel("c1", "x1"), rel("x1", "x2")]))
        let json = report.jsonValue
        XCTAssertEqual(
            Array((json.objectMembers ?? []).map(\.key).prefix(7)),
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
