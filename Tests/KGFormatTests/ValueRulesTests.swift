import Foundation
@testable import KGFormat
import KGTestSupport
import XCTest

/// Issue 12: the checker applies the restore's value rules (`RecordValueRules`,
/// `Float8Element`), so `kg admin verify` and a restore agree on every file.
final class ValueRulesTests: XCTestCase {
    private func document(
        concept: JSONValue? = nil, vocabulary: JSONValue? = nil, relationship: JSONValue? = nil,
        instance: JSONValue? = nil, ontologies: JSONValue? = nil, producer: Bool = true
    ) -> JSONValue {
        var sections = BackupFixtures.sections
        func replaceFirst(_ name: String, _ record: JSONValue?) {
            guard let record, let i = sections.firstIndex(where: { $0.key == name }) else { return }
            var items = sections[i].value.arrayValue!
            items[0] = record
            sections[i].value = .array(items)
        }
        replaceFirst("concepts", concept)
        replaceFirst("vocabulary", vocabulary)
        replaceFirst("relationships", relationship)
        if let instance {
            let i = sections.firstIndex { $0.key == "instances" }!
            sections[i].value = .array(sections[i].value.arrayValue! + [instance])
        }
        if let ontologies { sections.insert((key: "ontologies", value: ontologies), at: 1) }
        var doc = BackupFixtures.document(sections: sections)
        if !producer { doc = doc.setting("producer", nil) }
        return doc
    }

    private func concept(embedding: JSONValue, terms: JSONValue = ["t"]) -> JSONValue {
        ["concept_id": "c1", "label": "L", "search_terms": terms, "embedding": embedding]
    }

    private func errors(_ report: IntegrityReport) -> [String] { report.errors.map(\.message) }

    /// Issue 12 item 2: text columns take strings of any length (the reader streams those
    /// over 1 MiB); ids, references, list elements and strings inside relationship
    /// properties are held whole, so a long one is an error naming the field.
    func testLongStringsAreValidInTextColumnsOnly() {
        let long = JSONValue.string(String(repeating: "\u{E9}", count: (1 << 20) / 2 + 1))  // 1 MiB + 2 bytes of UTF-8
        let fine = document(concept: [
            "concept_id": "c1", "label": long, "description": long, "search_terms": ["t"],
            "embedding": [1],
        ])
        XCTAssertEqual(errors(check(fine, chunkSize: 65536)), [])
        let limit = "may hold 1048576 bytes at most"
        let badID = errors(check(document(concept: ["concept_id": long, "label": "L"])))
        XCTAssertTrue(
            badID.contains { $0.contains("data.concepts[0]: concept_id is a string of 1048578 bytes; ids, references, names and times \(limit)") },
            "\(badID.map { String($0.prefix(300)) })")
        let badTerm = errors(check(document(concept: ["concept_id": "c1", "label": "L", "search_terms": ["a", long]])))
        XCTAssertEqual(badTerm, ["data.concepts[0] (c1): search_terms[1] is a string of 1048578 bytes; elements of a list \(limit)"])
        let badProperty = errors(
            check(
                document(relationship: [
                    "from": "c1", "to": "c2", "type": "IMPLIES",
                    "properties": ["notes": ["x", ["long": long]]],
                ])))
        XCTAssertEqual(
            badProperty,
            ["data.relationships[0]: properties.notes[1].long is a string of 1048578 bytes; strings inside relationship properties \(limit)"])
        // U+0000 in a long string is found as in a short one.
        let nul = JSONValue.string(String(repeating: "x", count: 1 << 20) + "\u{0}")
        XCTAssertEqual(
            errors(check(document(concept: ["concept_id": "c1", "label": "L", "description": nul]))),
            ["data.concepts[0].description holds the character U+0000 (\\u0000), which the database cannot store"])
    }

    /// The rows of one instance must carry the same quote; long quotes are compared by
    /// length and hash (the checker keeps no bytes of them).
    func testRowsOfOneInstanceCompareLongQuotes() {
        let a = String(repeating: "a", count: 1 << 20) + "x", b = String(repeating: "a", count: 1 << 20) + "y"
        func doc(_ first: String, _ second: String) -> JSONValue {
            var sections = BackupFixtures.sections
            let i = sections.firstIndex { $0.key == "instances" }!
            sections[i].value = [
                ["instance_id": "i1", "quote": .string(first), "concept_id": "c1", "source_id": "s1"],
                ["instance_id": "i1", "quote": .string(second), "concept_id": "c2", "source_id": "s1"],
            ]
            return BackupFixtures.document(sections: sections)
        }
        XCTAssertEqual(errors(check(doc(a, a), chunkSize: 100_000)), [])
        XCTAssertEqual(errors(check(doc(a, b), chunkSize: 100_000)).count, 1)
        XCTAssertTrue(errors(check(doc(a, b))).first?.contains("instance i1 appears again at data.instances[1] with another quote") == true)
    }

    func testNonFiniteStringsLiteralsAndNullElementsAreValid() {
        let embedding: JSONValue = [
            .string("NaN"), .string("Infinity"), .string("-Infinity"), .number(.nan),
            .number(.infinity), .number(.negativeInfinity), .null, .number("-0"), .number("1e-320"),
            .number("5e-324"), .number("0e-999"), .number("1.7976931348623157e308"),
        ]
        let report = check(document(concept: concept(embedding: embedding, terms: ["a", nil, "", "NULL"])))
        XCTAssertEqual(report.findings, [])
        let vocabulary: JSONValue = ["relationship_type": "IMPLIES", "synonyms": ["a", nil], "embedding": [.string("NaN"), nil]]
        XCTAssertEqual(check(document(vocabulary: vocabulary)).findings, [])
    }

    func testBarePythonLiteralsAreRead() throws {
        XCTAssertEqual(
            try JSONValue.parse("[NaN, Infinity, -Infinity, -0]"),
            [.number(.nan), .number(.infinity), .number(.negativeInfinity), .number("-0")])
        for bad in ["[Nan]", "[-Inf]", "[NaNa]", "[infinity]", "[+Infinity]"] {
            XCTAssertThrowsError(try JSONValue.parse(bad), bad)
        }
        // Through the streaming reader, whatever the chunking.
        let text = String(decoding: document(concept: concept(embedding: [.number("0.5")])).jsonBytes, as: UTF8.self)
            .replacingOccurrences(of: "[0.5]", with: "[NaN,Infinity,-Infinity,0.5]")
        XCTAssertTrue(text.contains("[NaN,Infinity,-Infinity,0.5]"))
        for chunk in [1, 2, 7, Int.max] {
            XCTAssertEqual(check(Array(text.utf8), chunkSize: chunk).findings, [], "chunk \(chunk)")
        }
    }

    func testNonNumbersAreRefusedNamingRecordAndField() {
        let cases: [(JSONValue, String)] = [
            ([.number("0.5"), .string("nan")], "data.concepts[0] (c1): embedding[1] must be an array of numbers"),
            ([.bool(true)], "data.concepts[0] (c1): embedding[0] must be an array of numbers"),
            ([[.number("0.5")]], "data.concepts[0] (c1): embedding[0] must be an array of numbers"),
            ("NaN", "data.concepts[0] (c1): embedding must be an array of numbers or null, found a string"),
        ]
        for (embedding, message) in cases {
            let report = check(document(concept: concept(embedding: embedding)))
            XCTAssertFalse(report.valid, "\(embedding)")
            XCTAssertEqual(errors(report).filter { $0.hasPrefix(message) }.count, 1, "\(embedding): \(errors(report))")
        }
        let terms = check(document(concept: concept(embedding: [], terms: ["a", 3])))
        XCTAssertEqual(errors(terms), ["data.concepts[0] (c1): search_terms[1] must be a string or null, found a number"])
        // Synonyms take any element (stored as its JSON text), in every file version alike.
        let synonyms = check(document(vocabulary: ["relationship_type": "IMPLIES", "synonyms": [.bool(false), nil, 3]]))
        XCTAssertEqual(errors(synonyms), [])
        XCTAssertEqual(SchemaConverters.normalizedSynonyms([.bool(false), nil, 3, "a"]), [.string("false"), nil, .string("3"), "a"])
        let vocabularyEmbedding = check(document(vocabulary: ["relationship_type": "IMPLIES", "embedding": [.string("x")]]))
        XCTAssertEqual(errors(vocabularyEmbedding).count, 1)
        XCTAssertTrue(errors(vocabularyEmbedding)[0].hasPrefix("data.vocabulary[0] (IMPLIES): embedding[0] must be an array of numbers"))
    }

    /// PostgreSQL 15's float8in: `'1e-400'::float8` and `'1e400'::float8` are "out of range";
    /// `'1e-320'::float8` is a subnormal and accepted.
    func testOutOfRangeIsRefusedAsFloat8inRefusesIt() {
        let tinyWithoutExponent = "0." + String(repeating: "0", count: 400) + "1"
        for literal in ["1e-400", "-1e-400", "1e400", "-2e308", tinyWithoutExponent] {
            let report = check(document(concept: concept(embedding: [.number("0.5"), .number(JSONNumber(literal))])))
            XCTAssertEqual(errors(report), ["data.concepts[0] (c1): embedding[1] holds \(literal), out of range for double precision"])
        }
        // An exponent of 22 to 28 digits fits the 30 bytes the range shortcut reads and once
        // overflowed its Int: the checker crashed (the gateway with it, on an upload to verify).
        // Read as a number list (after 0.5) and as a general array (after null).
        for literal in ["1e9999999999999999999999", "-1E+0000000000000000000000000400", "1e-99999999999999999999999999"] {
            for first in [JSONValue.number("0.5"), .null] {
                let report = check(document(concept: concept(embedding: [first, .number(JSONNumber(literal))])))
                XCTAssertEqual(errors(report), ["data.concepts[0] (c1): embedding[1] holds \(literal), out of range for double precision"])
            }
        }
        XCTAssertEqual(try Float8Element(.number("1e-320")), .value(Double(bitPattern: 0x7E8)))
        XCTAssertEqual(try Float8Element(.number("5e-324")), .value(Double(bitPattern: 1)))
        XCTAssertEqual(try Float8Element(.number("-0")).bits, (-0.0).bitPattern)
        XCTAssertEqual(try Float8Element(.string("NaN")).bits, Double.nan.bitPattern)
        XCTAssertEqual(try Float8Element(.null), .null)
        XCTAssertThrowsError(try Float8Element(.number("1e-400")))
    }

    /// The checker's shortcut for ordinary numbers must say yes only where the value is
    /// certainly in range, and no for every non-finite literal and every exponent.
    func testThePlainDecimalShortcutAnswersOnlyOrdinaryNumbers() {
        for plain in ["0", "-0", "0.4831297575436466", "-0.0123", "12345678901234567890.12", "9", "-9.5"] {
            XCTAssertTrue(JSONNumber(plain).isPlainDecimal, plain)
            XCTAssertNoThrow(try Float8Element.check(.number(JSONNumber(plain))), plain)
        }
        for other in [
            "NaN", "Infinity", "-Infinity", "1e5", "1E5", "-1.5e-300", "2.5E+10", "1e-400",
            "123456789012345678901234", "0." + String(repeating: "0", count: 400) + "1", "-", "",
        ] {
            XCTAssertFalse(JSONNumber(other).isPlainDecimal, other)
        }
        // Every byte position of the exponent marker is seen, in each of the three stored words.
        for position in 1..<22 {
            let literal = String(repeating: "1", count: position) + "e" + String(repeating: "1", count: 22 - position)
            XCTAssertFalse(JSONNumber(literal).isPlainDecimal, literal)
        }
    }

    /// The fast path for the common literal gives strtod's bits (float8in's) for every
    /// literal it answers, and leaves the rest to strtod: PostgreSQL's shortest output of
    /// random doubles, random digit strings with the point anywhere, exponents, zeros, -0.
    func testFastFloatParsingGivesStrtodsBits() throws {
        var random = SeededGenerator(seed: 20261205)
        var literals: [String] = [
            "0", "-0", "0.0", "-0.0", "1", "9007199254740992", "9007199254740993", "0.1", "1e22", "1e23",
            "1e-22", "1e-23", "123456789012345.6", "4.9e-324", "1.7976931348623157e308", "0.30000000000000004",
            "-1.5E+10", "2.5e-5", "0.000001", "100000000000000000000000", "0.0000000000000000000000001",
        ]
        for _ in 0..<60_000 {
            let d = Double(bitPattern: random.next() & 0x3FFF_FFFF_FFFF_FFFF) * (random.next() % 2 == 0 ? 1 : -1)
            if d.isFinite { literals.append("\(d)") }
            let unit = Double(random.next() % 2_000_000_000) / 1_000_000_000 - 1
            literals.append("\(unit)")
            let digits = String((0..<Int(1 + random.next() % 18)).map { _ in Character(String(random.next() % 10)) })
            let point = Int(random.next() % UInt64(digits.count + 1))
            var literal = point == digits.count ? digits : String(digits.prefix(point)) + "." + String(digits.dropFirst(point))
            if literal.hasPrefix(".") { literal = "0" + literal }
            if random.next() % 4 == 0 { literal += "e\(Int(random.next() % 50) - 25)" }
            literals.append(literal)
        }
        var answered = 0
        for literal in literals {
            let fast = literal.utf8.withContiguousStorageIfAvailable { Float8Element.clingerFastPath(UnsafeRawBufferPointer($0)) } ?? nil
            guard let fast else { continue }
            answered += 1
            let slow = strtod(literal, nil)
            XCTAssertEqual(fast.bitPattern, slow.bitPattern, "\(literal): fast \(fast), strtod \(slow)")
            XCTAssertEqual(try Float8Element.parse(JSONNumber(literal)).bitPattern, slow.bitPattern, literal)
        }
        XCTAssertGreaterThan(answered, literals.count / 3, "the fast path answers the common literals")
    }

    /// Synonyms the restore cannot store as a list are refused here (system fuzz seed
    /// 7247028076114771519: a string passed the checker and failed in the worker; the worker now
    /// reads a string as it reads older files' synonyms, and anything else is refused at the door).
    func testSynonymsAreAListAStringOrNull() {
        for synonyms: JSONValue in [["a", "b"], "one synonym", #"["a", "b"]"#, nil, .array([])] {
            let report = check(document(vocabulary: ["relationship_type": "IMPLIES", "synonyms": synonyms]))
            XCTAssertEqual(errors(report), [], "\(synonyms)")
        }
        for synonyms: JSONValue in [7, true, ["k": "v"]] {
            let report = check(document(vocabulary: ["relationship_type": "IMPLIES", "synonyms": synonyms]))
            XCTAssertEqual(errors(report).count, 1, "\(synonyms)")
            XCTAssertTrue(
                errors(report).first?.hasSuffix("synonyms must be a list of strings or null, found \(synonyms.kind)") == true,
                "\(errors(report))")
        }
    }

    func testScalarFieldsFollowTheRestoresTypes() {
        let concept = check(document(concept: ["concept_id": "c1", "label": nil, "description": ["x"]]))
        XCTAssertEqual(
            errors(concept),
            [
                "data.concepts[0] (c1): label is missing",
                "data.concepts[0] (c1): description must be a string",
            ])
        XCTAssertEqual(check(document(concept: ["concept_id": "c1", "label": ""])).errors, [], "an empty label is a label")
        var sections = BackupFixtures.sections
        sections[2].value = [
            ["source_id": "s1", "document": "D", "paragraph": "2147483648"],
            ["source_id": "s2", "document": "D", "paragraph": .number("1.5")],
        ]
        let sources = check(BackupFixtures.document(sections: sections))
        XCTAssertEqual(
            errors(sources),
            [
                "data.sources[0] (s1): paragraph must be an integer",
                "data.sources[1] (s2): paragraph must be an integer",
            ])
        let vocabulary = check(document(vocabulary: ["relationship_type": "IMPLIES", "is_active": "yes", "usage_count": "7"]))
        XCTAssertEqual(errors(vocabulary), ["data.vocabulary[0] (IMPLIES): is_active must be true or false"])
        let edge = check(document(relationship: ["from": "c1", "to": "c2", "type": "IMPLIES", "properties": "{}"]))
        XCTAssertEqual(errors(edge), ["data.relationships[0]: properties must be an object, found a string"])
        let quote = check(document(instance: ["instance_id": "i9", "quote": nil, "concept_id": "c1", "source_id": "s1"]))
        XCTAssertEqual(errors(quote), ["data.instances[3] (i9): quote is missing"])
    }

    func testNonFiniteLiteralsInPropertiesAreRefused() {
        let edge: JSONValue = ["from": "c1", "to": "c2", "type": "IMPLIES", "properties": ["w": [1, .number(.nan)]]]
        let report = check(document(relationship: edge))
        XCTAssertEqual(errors(report).count, 1, "\(errors(report))")
        XCTAssertTrue(errors(report)[0].contains("properties.w[1] holds a bare NaN or Infinity"), "\(errors(report))")
    }

    func testNULIsRefusedNamingRecordAndField() {
        let report = check(document(concept: ["concept_id": "c1", "label": "a\u{0}b"]))
        XCTAssertEqual(errors(report), ["data.concepts[0].label holds the character U+0000 (\\u0000), which the database cannot store"])
        let terms = check(document(concept: concept(embedding: [], terms: ["ok", "x\u{0}"])))
        XCTAssertEqual(errors(terms), ["data.concepts[0].search_terms[1] holds the character U+0000 (\\u0000), which the database cannot store"])
    }

    func testInstancesWithoutConceptAreValidInKgFilesOnly() {
        let orphan: JSONValue = ["instance_id": "i9", "quote": "q", "concept_id": nil, "source_id": "s1"]
        XCTAssertEqual(check(document(instance: orphan)).errors, [])
        let platform = check(document(instance: orphan, producer: false))
        XCTAssertEqual(errors(platform), ["instance i9 (data.instances[3]) has no concept_id"])
    }

    func testOntologiesSection() {
        let list: JSONValue = [["name": "Philosophy", "created_at": "2020-01-01T00:00:00+00:00"], ["name": "Empty"]]
        XCTAssertEqual(check(document(ontologies: list)).errors, [])
        let twice = check(document(ontologies: [["name": "A"], ["name": "A"], ["created_at": nil]]))
        XCTAssertEqual(errors(twice).count, 2, "\(errors(twice))")
    }
}

private extension Float8Element {
    var bits: UInt64? {
        if case .value(let d) = self { return d.bitPattern }
        return nil
    }
}
