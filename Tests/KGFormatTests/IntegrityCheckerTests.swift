import XCTest
import KGFormat

final class IntegrityCheckerTests: XCTestCase {
    let valid = BackupFixtures.document()

    private func assertOnly(
        _ report: IntegrityReport, _ severity: Finding.Severity, _ category: Finding.Category,
        containing text: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let matching = report.findings.filter { $0.severity == severity && $0.category == category && $0.message.contains(text) }
        XCTAssertEqual(matching.count, 1, "no single \(severity) [\(category)] containing \(text): \(report.findings)", file: file, line: line)
        let others = report.findings.filter { !($0.severity == severity && $0.category == category && $0.message.contains(text)) }
        XCTAssertEqual(others, [], "unexpected findings", file: file, line: line)
        XCTAssertEqual(report.valid, severity != .error, file: file, line: line)
    }

    func testValidBaselineHasNoFindings() {
        let report = check(valid)
        XCTAssertTrue(report.valid)
        XCTAssertEqual(report.findings, [])
        XCTAssertEqual(report.counts, ["vocabulary": 2, "concepts": 3, "sources": 2, "instances": 3, "relationships": 3])
        XCTAssertEqual(report.backupType, "full_backup")
        XCTAssertEqual(report.version, "1.0")
        XCTAssertEqual(report.schemaVersion, 7)
        XCTAssertEqual(report.producer, .init(name: "kg", version: "0.1.0"))
        XCTAssertEqual(report.statistics, valid["statistics"])
        XCTAssertEqual(report.externalDeps, 0)
    }

    func testByteAtATimeGivesTheSameReport() {
        let broken = valid.appendingRecord("instances", BackupFixtures.instance("i9", concept: "c9", source: "s9"))
        XCTAssertEqual(check(broken, chunkSize: 1), check(broken))
        XCTAssertEqual(check(valid, chunkSize: 3), check(valid))
    }

    func testDataBeforeMetadataIsAccepted() {
        guard case .object(let members) = valid else { return XCTFail() }
        let reordered = JSONValue.object(members.filter { $0.key == "data" } + members.filter { $0.key != "data" })
        XCTAssertEqual(check(reordered).findings, [])
    }

    /// A top-level key given twice (found by the system fuzzer, seed 2173006564768885198): the
    /// worker plans from the metadata before `data`, the whole file's check keeps the last
    /// value, so the gateway accepted a file the worker then refused. Refused at the door now.
    func testATopLevelKeyGivenTwiceIsInvalid() {
        guard case .object(let members) = valid else { return XCTFail() }
        for (key, value) in [("schema_version", JSONValue.number("5")), ("timestamp", .string("2025-01-01T00:00:00Z")), ("version", .string("1.0"))] {
            let twice = JSONValue.object(members + [(key: key, value: value)])
            assertOnly(check(twice), .error, .format, containing: "the top-level key \"\(key)\" is given twice")
        }
        let data = members.first { $0.key == "data" }!
        let dataTwice = check(.object([data] + members))
        XCTAssertFalse(dataTwice.valid)
        XCTAssertTrue(
            dataTwice.findings.contains { $0.category == .format && $0.message.contains("the top-level key \"data\" is given twice") },
            "\(dataTwice.findings)")
        // A key kg does not read may repeat: nothing depends on which one counts.
        XCTAssertEqual(check(.object(members + [(key: "comment", value: .string("a")), (key: "comment", value: .string("b"))])).findings, [])
    }

    // MARK: Instances: what the restore requires of them (found by the system fuzzer)

    /// The valid document with one more instance row, its statistics counting it.
    private func withInstance(_ record: JSONValue) -> JSONValue {
        let doc = valid.appendingRecord("instances", record)
        return doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
    }

    func testAnInstanceWithoutItsIdIsInvalid() {
        let noID = BackupFixtures.instance("x", concept: "c1", source: "s1").setting("instance_id", nil)
        assertOnly(check(withInstance(noID)), .error, .format, containing: "has no instance_id")
    }

    func testRowsOfOneInstanceMustCarryTheSameQuoteAndSource() {
        // i1 is already a row naming s1 with "a quote": another source, or another quote, contradicts it.
        let otherSource = BackupFixtures.instance("i1", concept: "c3", source: "s2")
        assertOnly(check(withInstance(otherSource)), .error, .consistency, containing: "instance i1 appears again")
        let otherQuote = BackupFixtures.instance("i1", concept: "c3", source: "s1").setting("quote", "another quote")
        assertOnly(check(withInstance(otherQuote)), .error, .consistency, containing: "with another quote or source")
        // The same quote and source under another concept is one more row of the same instance: fine.
        XCTAssertEqual(check(withInstance(BackupFixtures.instance("i1", concept: "c3", source: "s1"))).findings, [])
    }

    // MARK: Format

    func testMissingRequiredKeys() {
        let report = check(valid.setting("version", nil).setting("statistics", nil))
        assertOnly(report, .error, .format, containing: "missing top-level keys: version, statistics")
        XCTAssertEqual(report.jsonValue["statistics"], .object([]))
        let noData = check(valid.setting("data", nil).setting("statistics", nil))
        assertOnly(noData, .error, .format, containing: "missing top-level keys: data, statistics")
    }

    func testUnknownType() {
        assertOnly(
            check(valid.setting("type", "weekly")), .error, .format,
            containing: "\"type\" must be \"full_backup\" or \"ontology_backup\", found \"weekly\"")
    }

    func testVersionMustBeANonEmptyString() {
        assertOnly(check(valid.setting("version", 1)), .error, .format, containing: "\"version\" must be a non-empty string")
        assertOnly(check(valid.setting("version", "")), .error, .format, containing: "\"version\" must be a non-empty string")
    }

    func testTimestampMissingOrMalformedIsAWarning() {
        assertOnly(check(valid.setting("timestamp", nil)), .warning, .format, containing: "no \"timestamp\"")
        assertOnly(check(valid.setting("timestamp", "yesterday")), .warning, .format, containing: "found \"yesterday\"")
        assertOnly(check(valid.setting("timestamp", "2024-05-01T10:00:00+02:00")), .warning, .format, containing: "ending in Z")
        for good in ["2024-05-01T10:00:00Z", "2024-05-01T10:00:00.123456Z"] {
            XCTAssertEqual(check(valid.setting("timestamp", .string(good))).findings, [], good)
        }
        for bad in ["2024-05-01 10:00:00Z", "2024-05-01T10:00:00.Z", "2024-05-01T10:00Z"] {
            assertOnly(check(valid.setting("timestamp", .string(bad))), .warning, .format, containing: "ending in Z")
        }
        assertOnly(check(valid.setting("timestamp", 1714557600)), .warning, .format, containing: "found 1714557600")
    }

    func testNotJSONIsAFormatError() {
        let report = check(Array("PK\u{3}\u{4} this is a zip".utf8))
        XCTAssertFalse(report.valid)
        XCTAssertEqual(report.errors.count, 1)
        XCTAssertEqual(report.errors.first?.category, .format)
        XCTAssertTrue(report.errors[0].message.contains("not JSON"), report.errors[0].message)
    }

    func testTruncatedDocumentIsAFormatError() {
        let bytes = valid.jsonBytes
        let report = check(Array(bytes[0..<(bytes.count * 2 / 3)]))
        XCTAssertFalse(report.valid)
        XCTAssertEqual(report.errors.count, 1)
        XCTAssertTrue(report.errors[0].message.contains("truncated"), report.errors[0].message)
        XCTAssertEqual(report.errors[0].category, .format)
        // What was read before the break is still reported.
        XCTAssertEqual(report.counts["vocabulary"], 2)
        XCTAssertEqual(report.backupType, "full_backup")
        XCTAssertTrue(report.renderText().contains("records read: vocabulary 2"), report.renderText())
    }

    // MARK: Data

    func testDataNotAnObject() {
        assertOnly(check(valid.setting("data", [1, 2])), .error, .format, containing: "\"data\" is an array, not an object")
    }

    func testSectionMissingOrNotAnArray() {
        assertOnly(
            check(valid.settingSection("sources", nil).setting("statistics", ["concepts": 3])),
            .error, .format, containing: "data has no \"sources\" section")
        let report = check(valid.settingSection("concepts", ["c1": [:]]).setting("statistics", [:]))
        XCTAssertTrue(
            report.errors.contains { $0.category == .format && $0.message.contains("data.concepts is an object, not an array") }, "\(report.findings)"
        )
    }

    func testNoDataIsAWarning() {
        let empty: [(key: String, value: JSONValue)] = ["concepts", "sources", "instances", "relationships"].map { (key: $0, value: []) }
        assertOnly(check(BackupFixtures.document(sections: empty)), .warning, .consistency, containing: "no data")
    }

    func testRecordThatIsNotAnObject() {
        let doc = valid.settingSection("concepts", [BackupFixtures.concept("c1"), BackupFixtures.concept("c2"), BackupFixtures.concept("c3"), 42])
            .setting("statistics", nil)
        let report = check(doc)
        XCTAssertTrue(report.errors.contains { $0.message == "data.concepts[3] is a number, not an object" }, "\(report.findings)")
    }

    // MARK: References

    func testInstanceWithoutConceptOrSource() {
        var doc = valid.appendingRecord("instances", ["instance_id": "i7", "quote": "q", "source_id": "s1"])
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        assertOnly(check(doc), .error, .references, containing: "instance i7 (data.instances[3]) has no concept_id")
        var doc2 = valid.appendingRecord("instances", ["instance_id": "i7", "quote": "q", "concept_id": "c1"])
        doc2 = doc2.setting("statistics", BackupFixtures.statistics(for: doc2["data"]!.objectMembers!))
        assertOnly(check(doc2), .error, .references, containing: "has no source_id")
    }

    func testInstanceNamingAMissingSourceIsAnErrorInEveryBackup() {
        for type in ["full_backup", "ontology_backup"] {
            var doc = BackupFixtures.document(type: type, ontology: "Philosophy")
                .appendingRecord("instances", BackupFixtures.instance("i12", concept: "c1", source: "s9"))
            doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
            assertOnly(check(doc), .error, .references, containing: "instance i12 names source s9, which the file does not contain")
        }
    }

    func testDanglingConceptIsAnErrorInAFullBackup() {
        var doc = valid.appendingRecord("relationships", BackupFixtures.relationship("c1", "c99"))
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        let report = check(doc)
        assertOnly(report, .error, .references, containing: "names concept c99, which the file does not contain")
        XCTAssertEqual(report.externalDeps, 0)
    }

    func testDanglingConceptsAreExternalDependenciesInAnOntologyBackup() {
        var doc = BackupFixtures.document(type: "ontology_backup", ontology: "Philosophy")
            .appendingRecord("relationships", BackupFixtures.relationship("c1", "x1"))
            .appendingRecord("relationships", BackupFixtures.relationship("c2", "x1"))
            .appendingRecord("relationships", BackupFixtures.relationship("c2", "x2"))
            .appendingRecord("instances", BackupFixtures.instance("i5", concept: "x3", source: "s1"))
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        let report = check(doc)
        XCTAssertTrue(report.valid)
        XCTAssertEqual(report.externalDeps, 3)
        XCTAssertEqual(report.errors, [])
        XCTAssertEqual(report.warnings.count, 1)
        XCTAssertEqual(report.warnings[0].category, .externalDeps)
        XCTAssertTrue(report.warnings[0].message.hasPrefix("3 concepts"), report.warnings[0].message)
        XCTAssertEqual(report.info.count, 1)
        XCTAssertEqual(report.info[0].category, .externalDeps)
        XCTAssertTrue(report.info[0].message.contains("connects the references whose concepts the database holds"), report.info[0].message)
    }

    func testOntologyBackupWithoutAName() {
        assertOnly(
            check(BackupFixtures.document(type: "ontology_backup", ontology: nil)),
            .warning, .externalDeps, containing: "without an ontology name")
    }

    func testRelationshipWithoutAnEnd() {
        var doc = valid.appendingRecord("relationships", ["to": "c1", "type": "IMPLIES", "properties": [:]])
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        assertOnly(check(doc), .error, .references, containing: "data.relationships[3] has no \"from\" concept")
    }

    func testReferencesResolveInAnyOrder() {
        // Relationships and instances before the concepts and sources they name.
        let sections = BackupFixtures.sections.reversed().map { $0 }
        XCTAssertEqual(check(BackupFixtures.document(sections: sections)).findings, [])
    }

    func testDuplicateIdsAreErrors() {
        var doc = valid.appendingRecord("concepts", BackupFixtures.concept("c2"))
            .appendingRecord("sources", BackupFixtures.source("s1"))
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        let report = check(doc)
        XCTAssertEqual(
            report.errors.map(\.message),
            [
                "concept c2 is defined more than once (again at data.concepts[3]); a restore cannot load both",
                "source s1 is defined more than once (again at data.sources[2]); a restore cannot load both",
            ])
        XCTAssertTrue(report.errors.allSatisfy { $0.category == .references })
    }

    func testRepeatedFindingsAreCapped() {
        var doc = valid
        for n in 0..<50 {
            doc = doc.appendingRecord("instances", BackupFixtures.instance("m\(n)", concept: "c1", source: "missing\(n)"))
        }
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        let report = check(doc)
        XCTAssertEqual(report.errors.count, 21)
        XCTAssertEqual(report.errors.last?.message, "... and 30 more references to sources the file does not contain")
    }

    // MARK: Vocabulary

    func testUnknownTypeIsAWarningAgainstTheFilesVocabulary() {
        var doc = valid.appendingRecord("relationships", BackupFixtures.relationship("c1", "c3", "CAUSES"))
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        // CAUSES is built in, but this file carries a vocabulary without it.
        assertOnly(check(doc), .warning, .vocabulary, containing: "relationship type CAUSES (used by 1 relationship) is not in the file's vocabulary")
    }

    func testWithoutVocabularyTypesAreCheckedAgainstTheBuiltIns() {
        var doc = valid.settingSection("vocabulary", nil)
            .appendingRecord("relationships", BackupFixtures.relationship("c1", "c3", "CAUSES"))
            .appendingRecord("relationships", BackupFixtures.relationship("c1", "c3", "INSPIRES"))
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        assertOnly(check(doc), .warning, .vocabulary, containing: "INSPIRES (used by 1 relationship) is not a built-in type")
    }

    func testStructuralEdgeNameAsTypeIsAWarning() {
        var doc = valid.appendingRecord("relationships", BackupFixtures.relationship("c1", "c3", "APPEARS"))
        doc = doc.setting("statistics", BackupFixtures.statistics(for: doc["data"]!.objectMembers!))
        assertOnly(check(doc), .warning, .vocabulary, containing: "structural edge name")
    }

    // MARK: Statistics

    func testStatisticsMismatchIsAWarningNamingTheSection() {
        let stats = valid["statistics"]!.setting("instances", 4)
        let report = check(valid.setting("statistics", stats))
        assertOnly(report, .warning, .consistency, containing: "statistics says 4 instances but data.instances holds 3")
        XCTAssertEqual(report.statistics, stats)
    }

    func testStatisticsPassThroughUnchanged() {
        let stats: JSONValue = [
            "concepts": 3, "sources": 2, "instances": 3, "relationships": 3, "vocabulary": 2,
            "note": "kept", "ratio": .number("0.1000000000000000055511151231257827"),
        ]
        let report = check(valid.setting("statistics", stats))
        XCTAssertEqual(report.findings, [])
        XCTAssertEqual(report.statistics, stats)
        XCTAssertTrue(
            report.jsonText().contains(
                #""statistics":{"concepts":3,"sources":2,"instances":3,"relationships":3,"vocabulary":2,"note":"kept","ratio":0.1000000000000000055511151231257827}"#
            ))
    }

    // MARK: Observer mode

    func testObserverModeMatchesFeedingBytes() throws {
        let checker = IntegrityChecker()
        var records = 0
        let reader = BackupStreamReader { event in
            checker.observe(event)
            if case .record = event { records += 1 }
        }
        try reader.feed(valid.jsonBytes)
        try reader.finish()
        XCTAssertEqual(records, 13)
        XCTAssertEqual(checker.makeReport(), check(valid))
    }

    func testObserverModeReportsAReadFailure() {
        let checker = IntegrityChecker()
        let reader = BackupStreamReader { checker.observe($0) }
        XCTAssertThrowsError(try reader.feed(Array("{\"version\": ".utf8) + [0xFF])) { checker.observeFailure($0) }
        let report = checker.makeReport()
        XCTAssertFalse(report.valid)
        XCTAssertEqual(report.errors.first?.category, .format)
    }

    // MARK: Report output

    func testJSONShapeFollowsTheContract() throws {
        let stats = valid["statistics"]!.setting("instances", 5)
        var doc = valid.setting("statistics", stats)
            .appendingRecord("instances", BackupFixtures.instance("i12", concept: "c1", source: "s9"))
        doc = doc.setting("type", "full_backup")
        let report = check(doc)
        let parsed = try XCTUnwrap(readEvents(report.jsonBytes().count > 0 ? "{\"r\": \(report.jsonText())}" : "").events.first)
        guard case .metadata(_, let json) = parsed else { return XCTFail() }
        XCTAssertEqual(
            json.objectMembers?.map(\.key),
            [
                "valid", "errors", "warnings", "info", "external_deps", "statistics",
                "external_references", "schema_version", "backup_type", "ontology",
                "version", "timestamp", "counts", "producer",
            ])
        XCTAssertEqual(json["valid"], false)
        XCTAssertEqual(json["errors"], [["category": "references", "message": "instance i12 names source s9, which the file does not contain"]])
        XCTAssertEqual(json["warnings"]?[0]?["category"], "consistency")
        XCTAssertEqual(json["external_deps"], 0)
        XCTAssertEqual(json["schema_version"], 7)
        XCTAssertEqual(json["counts"]?["instances"], 4)
        XCTAssertEqual(json["producer"], ["name": "kg", "version": "0.1.0"])
        // Codable round trip of the report itself.
        let decoded = try JSONDecoder().decode(IntegrityReport.self, from: JSONEncoder().encode(report))
        XCTAssertEqual(decoded.errors, report.errors)
        XCTAssertEqual(decoded.valid, false)
    }

    func testTextRendering() {
        let doc = valid.appendingRecord("instances", BackupFixtures.instance("i12", concept: "c1", source: "s9"))
        let text = check(doc).renderText()
        XCTAssertTrue(text.hasPrefix("error [references] instance i12 names source s9, which the file does not contain\n"), text)
        XCTAssertTrue(text.contains("warning [consistency] statistics says 3 instances but data.instances holds 4"), text)
        XCTAssertTrue(text.contains("\nINVALID: 1 error, 1 warning\n"), text)
        XCTAssertTrue(text.contains("Next step: "), text)
        let fine = check(valid).renderText()
        XCTAssertTrue(fine.hasSuffix("\nvalid\n"), fine)
        XCTAssertTrue(fine.contains("full_backup, version 1.0, schema 7, written by kg 0.1.0 at 2024-05-01T10:00:00.123Z"), fine)
    }
}
