import Foundation
import KGFormat
import XCTest

final class SchemaConverterTests: XCTestCase {
    func testSynonymsInEveryOlderShapeBecomeAListOrNull() throws {
        XCTAssertEqual(SchemaConverters.normalizedSynonyms(nil), .null)
        XCTAssertEqual(SchemaConverters.normalizedSynonyms(.null), .null)
        XCTAssertEqual(SchemaConverters.normalizedSynonyms(.string("null")), .null)
        XCTAssertEqual(SchemaConverters.normalizedSynonyms(.string("[]")), .null)
        XCTAssertEqual(SchemaConverters.normalizedSynonyms(.array([])), .null)
        XCTAssertEqual(SchemaConverters.normalizedSynonyms(.string(#"["a", "b c"]"#)), .array([.string("a"), .string("b c")]))
        XCTAssertEqual(SchemaConverters.normalizedSynonyms(.array([.string("x")])), .array([.string("x")]))
        XCTAssertEqual(SchemaConverters.normalizedSynonyms(.string("plain")), .array([.string("plain")]))
    }

    func testV2ToV3ConvertsVocabularyOnly() throws {
        let converter = try XCTUnwrap(SchemaConverters.all.first { $0.targetVersion == 3 })
        let vocab = try JSONValue.parse(#"{"relationship_type": "X", "synonyms": "[\"y\"]"}"#)
        XCTAssertEqual(converter("vocabulary", vocab)["synonyms"], .array([.string("y")]))
        let concept = try JSONValue.parse(#"{"concept_id": "c", "synonyms": "null"}"#)
        XCTAssertEqual(converter("concepts", concept), concept, "other sections pass through")
    }

    func testV3ToV4AddsCreatedAtAndKeepsAnExistingOne() throws {
        let converter = try XCTUnwrap(SchemaConverters.all.first { $0.targetVersion == 4 })
        let old = try JSONValue.parse(#"{"concept_id": "c", "label": "L"}"#)
        XCTAssertEqual(converter("concepts", old)["created_at"], .null)
        let new = try JSONValue.parse(#"{"concept_id": "c", "created_at": "2025-01-01T00:00:00Z"}"#)
        XCTAssertEqual(converter("concepts", new), new)
    }

    func testPlatformQuirks() throws {
        let source = try JSONValue.parse(#"{"source_id": "s", "file_path": "None", "document": "D"}"#)
        let converted = RestorePlan.platform(to: SchemaConverters.latestVersion).convert("sources", source)
        XCTAssertEqual(converted["file_path"], .null)
        XCTAssertEqual(converted["source_id"], .string("s"))
        let concept = try JSONValue.parse(#"{"concept_id": "c", "label": "L", "embedding": [0.5]}"#)
        let c = RestorePlan.platform(to: SchemaConverters.latestVersion).convert("concepts", concept)
        XCTAssertEqual(c["description"], .null)
        XCTAssertEqual(c["created_at"], .null)
        XCTAssertEqual(c["embedding"], .array([.number("0.5")]), "numbers keep their text")
    }

    func testPlans() {
        let latest = SchemaConverters.latestVersion
        XCTAssertEqual(RestorePlan.make(backupVersion: latest, fromThisSystem: true, databaseVersion: latest), .direct(version: latest))
        XCTAssertEqual(RestorePlan.make(backupVersion: 1, fromThisSystem: true, databaseVersion: 4), .convert(from: 1, to: 4))
        XCTAssertEqual(RestorePlan.make(backupVersion: 1, fromThisSystem: true, databaseVersion: 4).converters.map(\.targetVersion), [3, 4])
        XCTAssertEqual(RestorePlan.make(backupVersion: 3, fromThisSystem: true, databaseVersion: 4).converters.map(\.targetVersion), [4])
        XCTAssertEqual(RestorePlan.make(backupVersion: nil, fromThisSystem: true, databaseVersion: 4), .convert(from: 1, to: 4))
        let refused = RestorePlan.make(backupVersion: 9, fromThisSystem: true, databaseVersion: 4)
        XCTAssertEqual(refused.refusal, "backup needs schema v9, database is at v4: apply migrations first (kg-gateway migrate)")
        // The platform's numbers are its own: never compared with ours.
        XCTAssertEqual(RestorePlan.make(backupVersion: 57, fromThisSystem: false, databaseVersion: 4), .platform(to: 4))
    }

    func testLatestVersionMatchesTheHighestMigration() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let names = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("schema/migrations").path)
        let highest = names.compactMap { Int($0.prefix { $0.isNumber }) }.max()
        XCTAssertEqual(
            highest, SchemaConverters.latestVersion,
            "a new migration needs its converter (or an explicit no-change entry) and latestVersion raised")
    }
}
