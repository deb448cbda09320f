import KGFormat
import XCTest

/// Small backup documents for tests, built as JSONValues so each test can
/// break exactly one thing.
enum BackupFixtures {
    static func concept(_ id: String) -> JSONValue {
        [
            "concept_id": .string(id), "label": .string("Label \(id)"), "search_terms": ["t"],
            "embedding": [.number("0.125"), .number("-1.5e-3")],
        ]
    }

    static func source(_ id: String, document: String = "Philosophy") -> JSONValue {
        [
            "source_id": .string(id), "document": .string(document), "paragraph": 1,
            "full_text": "Some text.", "file_path": "/docs/p.md",
        ]
    }

    static func instance(_ id: String, concept: String, source: String) -> JSONValue {
        ["instance_id": .string(id), "quote": "a quote", "concept_id": .string(concept), "source_id": .string(source)]
    }

    static func relationship(_ from: String, _ to: String, _ type: String = "IMPLIES") -> JSONValue {
        [
            "from": .string(from), "to": .string(to), "type": .string(type),
            "properties": ["confidence": .number("0.9"), "category": "logical_truth"],
        ]
    }

    static func vocabulary(_ type: String) -> JSONValue {
        [
            "relationship_type": .string(type), "description": "d", "category": "logical_truth",
            "is_builtin": true, "is_active": true, "synonyms": nil, "embedding": nil,
        ]
    }

    static var sections: [(key: String, value: JSONValue)] {
        [
            (key: "vocabulary", value: [vocabulary("IMPLIES"), vocabulary("SUPPORTS")]),
            (key: "concepts", value: [concept("c1"), concept("c2"), concept("c3")]),
            (key: "sources", value: [source("s1"), source("s2")]),
            (
                key: "instances",
                value: [
                    instance("i1", concept: "c1", source: "s1"),
                    instance("i1", concept: "c2", source: "s1"),
                    instance("i2", concept: "c3", source: "s2"),
                ]
            ),
            (
                key: "relationships",
                value: [
                    relationship("c1", "c2"), relationship("c2", "c3", "SUPPORTS"),
                    relationship("c1", "c2"),
                ]
            ),
        ]
    }

    static func statistics(for sections: [(key: String, value: JSONValue)]) -> JSONValue {
        let names = ["concepts", "sources", "instances", "relationships", "vocabulary"]
        var members: [(key: String, value: JSONValue)] = []
        for name in names {
            guard let section = sections.last(where: { $0.key == name }) else { continue }
            members.append((key: name, value: .integer(section.value.arrayValue?.count ?? 0)))
        }
        return .object(members)
    }

    /// A valid full backup written by kg: metadata first, data last.
    static func document(
        type: String = "full_backup", ontology: JSONValue = nil,
        sections: [(key: String, value: JSONValue)] = sections
    ) -> JSONValue {
        .object([
            (key: "version", value: "1.0"),
            (key: "type", value: .string(type)),
            (key: "timestamp", value: "2024-05-01T10:00:00.123Z"),
            (key: "ontology", value: ontology),
            (key: "schema_version", value: 7),
            (key: "producer", value: ["name": "kg", "version": "0.1.0"]),
            (key: "statistics", value: statistics(for: sections)),
            (key: "data", value: .object(sections)),
        ])
    }
}

extension JSONValue {
    /// This object with `key` set to `value` (replaced in place, or appended),
    /// or removed when `value` is nil.
    func setting(_ key: String, _ value: JSONValue?) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let value {
            if let i = members.firstIndex(where: { $0.key == key }) {
                members[i].value = value
            } else {
                members.append((key: key, value: value))
            }
        } else {
            members.removeAll { $0.key == key }
        }
        return .object(members)
    }

    /// This document with `data.<section>` set, removed, or changed.
    func settingSection(_ section: String, _ value: JSONValue?) -> JSONValue {
        setting("data", self["data"]!.setting(section, value))
    }

    func appendingRecord(_ section: String, _ record: JSONValue) -> JSONValue {
        settingSection(section, .array((self["data"]?[section]?.arrayValue ?? []) + [record]))
    }
}

/// Checks `document` by feeding its bytes in chunks of `chunkSize`.
func check(_ document: JSONValue, chunkSize: Int = .max) -> IntegrityReport {
    check(document.jsonBytes, chunkSize: chunkSize)
}

/// Every check runs twice: with the id checks in memory, and with a budget of one
/// byte (each id fact spilled to the temp file as a run of its own, then merged);
/// the two reports must be the same, finding for finding.
func check(
    _ bytes: [UInt8], chunkSize: Int = .max, maxDecompressedBytes: Int? = nil,
    file: StaticString = #filePath, line: UInt = #line
) -> IntegrityReport {
    let inMemory = check(
        bytes, chunkSize: chunkSize, maxDecompressedBytes: maxDecompressedBytes, idMemoryBytes: IntegrityChecker.defaultIDMemoryBytes)
    let spilled = check(bytes, chunkSize: chunkSize, maxDecompressedBytes: maxDecompressedBytes, idMemoryBytes: 1)
    XCTAssertEqual(spilled.jsonText(), inMemory.jsonText(), "spilled to disk vs in memory", file: file, line: line)
    XCTAssertEqual(spilled.renderText(), inMemory.renderText(), "spilled to disk vs in memory", file: file, line: line)
    return inMemory
}

func check(_ bytes: [UInt8], chunkSize: Int = .max, maxDecompressedBytes: Int? = nil, idMemoryBytes: Int) -> IntegrityReport {
    let checker = IntegrityChecker(maxDecompressedBytes: maxDecompressedBytes, idMemoryBytes: idMemoryBytes)
    var start = 0
    while start < bytes.count {
        let end = start + min(chunkSize, bytes.count - start)
        checker.feed(Array(bytes[start..<end]))
        start = end
    }
    return checker.finish()
}
