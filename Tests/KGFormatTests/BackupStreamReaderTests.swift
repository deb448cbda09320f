import Foundation
import XCTest
import KGFormat

/// Reads `text` with the given chunk size and returns the events, or the error.
func readEvents(_ bytes: [UInt8], chunkSize: Int = .max, limits: BackupReaderLimits = .init())
    -> (events: [BackupEvent], error: BackupReadError?)
{
    var events: [BackupEvent] = []
    let reader = BackupStreamReader(limits: limits) { events.append($0) }
    do {
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + min(chunkSize, bytes.count))
            try reader.feed(Array(bytes[start..<end]))
            start = end
        }
        try reader.finish()
        return (events, nil)
    } catch let error as BackupReadError {
        return (events, error)
    } catch {
        XCTFail("unexpected error type: \(error)")
        return (events, nil)
    }
}

func readEvents(_ text: String, chunkSize: Int = .max, limits: BackupReaderLimits = .init())
    -> (events: [BackupEvent], error: BackupReadError?)
{
    readEvents(Array(text.utf8), chunkSize: chunkSize, limits: limits)
}

final class BackupStreamReaderTests: XCTestCase {
    let sample = """
        {"version": "1.0", "type": "full_backup", "timestamp": "2024-05-01T10:00:00Z", "ontology": null,
         "statistics": {"concepts": 2, "sources": 0, "instances": 0, "relationships": 1, "vocabulary": 0},
         "data": {
           "concepts": [
             {"concept_id": "c1", "label": "Zürich \\"quoted\\" \\u00e9\\ud83d\\ude00", "embedding": [0.1000000000000000055511151231257827, -1.5e-300, 3]},
             {"concept_id": "c2", "label": "two", "search_terms": ["a", "b"], "embedding": []}
           ],
           "sources": [],
           "relationships": [{"from": "c1", "to": "c2", "type": "IMPLIES", "properties": {}}]
         },
         "trailer": [true, false, null, {"nested": [[], {}]}]
        }
        """

    func testEventsOfASmallDocument() throws {
        let (events, error) = readEvents(sample)
        XCTAssertNil(error)
        XCTAssertEqual(events.count, 18)
        XCTAssertEqual(events.first, .metadata(key: "version", value: "1.0"))
        XCTAssertEqual(events[3], .metadata(key: "ontology", value: nil))
        XCTAssertEqual(events[5], .dataStart)
        XCTAssertEqual(events[6], .sectionStart(name: "concepts"))
        guard case .record(let section, let index, let value) = events[7] else { return XCTFail("\(events[7])") }
        XCTAssertEqual(section, "concepts")
        XCTAssertEqual(index, 0)
        XCTAssertEqual(value["label"]?.stringValue, "Zürich \"quoted\" é😀")
        XCTAssertEqual(
            value["embedding"]?.arrayValue?.map(\.numberLiteral),
            ["0.1000000000000000055511151231257827", "-1.5e-300", "3"])
        XCTAssertEqual(events[9], .sectionEnd(name: "concepts", count: 2))
        XCTAssertEqual(events[10], .sectionStart(name: "sources"))
        XCTAssertEqual(events[11], .sectionEnd(name: "sources", count: 0))
        XCTAssertEqual(events[14], .sectionEnd(name: "relationships", count: 1))
        XCTAssertEqual(events[15], .dataEnd)
        XCTAssertEqual(events[16], .metadata(key: "trailer", value: [true, false, nil, ["nested": [[], [:]]]]))
        XCTAssertEqual(events.last, .end)
    }

    func testByteAtATimeGivesIdenticalEvents() {
        let whole = readEvents(sample)
        for size in [1, 2, 3, 7, 64] {
            let chunked = readEvents(sample, chunkSize: size)
            XCTAssertNil(chunked.error)
            XCTAssertEqual(chunked.events, whole.events, "chunk size \(size)")
        }
    }

    func testErrorsAreTheSameWhateverTheChunking() {
        let broken = [
            #"{"version": "1.0", "data": {"concepts": [{"a": 1,}]}}"#,
            #"{"version": "1.0", "data": {"concepts": [{"a": "\xyz"}]}}"#,
            #"{"data": {"concepts": [[[[[[1]]]]]]}}"#,
            #"{"version": "1.0"} x"#,
            #"{"version": "1.0", "data": {"concepts": [1, 2"#,
        ]
        let limits = BackupReaderLimits(maxDepth: 6, maxValueBytes: 1 << 20)
        for text in broken {
            let whole = readEvents(text, limits: limits)
            XCTAssertNotNil(whole.error, text)
            let bytewise = readEvents(text, chunkSize: 1, limits: limits)
            XCTAssertEqual(bytewise.error, whole.error, text)
            XCTAssertEqual(bytewise.events, whole.events, text)
        }
    }

    func testDataBeforeMetadata() {
        let (events, error) = readEvents(#"{"data": {"concepts": [{"concept_id": "c1"}]}, "version": "1.0"}"#)
        XCTAssertNil(error)
        XCTAssertEqual(
            events,
            [
                .dataStart,
                .sectionStart(name: "concepts"),
                .record(section: "concepts", index: 0, value: ["concept_id": "c1"]),
                .sectionEnd(name: "concepts", count: 1),
                .dataEnd,
                .metadata(key: "version", value: "1.0"),
                .end,
            ])
    }

    func testDataAndSectionsOfTheWrongKind() {
        let (events, error) = readEvents(#"{"data": {"concepts": {"a": 1}, "sources": "none"}, "x": {"data": 1}}"#)
        XCTAssertNil(error)
        XCTAssertEqual(
            events,
            [
                .dataStart,
                .sectionNotArray(name: "concepts", found: .object),
                .sectionNotArray(name: "sources", found: .string),
                .dataEnd,
                .metadata(key: "x", value: ["data": 1]),
                .end,
            ])
        XCTAssertEqual(readEvents(#"{"data": [1, 2]}"#).events, [.dataNotObject(found: .array), .end])
        XCTAssertEqual(readEvents(#"{"data": 12}"#).events, [.dataNotObject(found: .number), .end])
    }

    func testNumberLiteralsKeepEveryDigit() {
        let literals = [
            "0.1000000000000000055511151231257827", "-1.5e-300", "0", "-0", "1E+2",
            "123456789012345678901234567890", "2.5e10",
        ]
        for literal in literals {
            let (events, error) = readEvents("{\"n\": \(literal)}")
            XCTAssertNil(error, literal)
            XCTAssertEqual(events.first, .metadata(key: "n", value: .number(JSONNumber(literal))))
        }
        // Bare NaN, Infinity and -Infinity are Python's json.dumps output for non-finite floats:
        // read as numbers (docs/DESIGN.md "Values in a backup"); nothing else like them is.
        for (literal, number) in [("NaN", JSONNumber.nan), ("Infinity", .infinity), ("-Infinity", .negativeInfinity)] {
            let (events, error) = readEvents("{\"n\": \(literal)}")
            XCTAssertNil(error, literal)
            XCTAssertEqual(events.first, .metadata(key: "n", value: .number(number)))
        }
        for bad in [
            "01", "1.", ".5", "-", "1e", "+1", "1.5.5", "0x10", "Nan", "NaNx", "-NaN", "Inf", "-Inf", "infinity",
            "+Infinity", "tru", "nul",
        ] {
            let (_, error) = readEvents("{\"n\": \(bad)}")
            XCTAssertEqual(error?.kind, .notJSON, bad)
        }
    }

    func testNotJSON() {
        let (_, error) = readEvents("<html><body>502 Bad Gateway</body></html>")
        XCTAssertEqual(error?.kind, .notJSON)
        XCTAssertEqual(error?.offset, 0)
        XCTAssertTrue(error!.message.contains("not JSON"), error!.message)

        let missingColon = readEvents(#"{"version" "1.0"}"#).error
        XCTAssertEqual(missingColon?.kind, .notJSON)
        XCTAssertTrue(missingColon!.message.contains("expected ':' after the top-level key \"version\""), missingColon!.message)
        XCTAssertEqual(missingColon?.offset, 11)

        let badRecord = readEvents(#"{"data": {"concepts": [{"a": 1}, {"a" 2}]}}"#).error
        XCTAssertEqual(badRecord?.kind, .notJSON)
        XCTAssertEqual(badRecord?.message, "not valid JSON in data.concepts[1]: expected ':' after the member name \"a\", found '2' (at byte 38)")
        XCTAssertEqual(badRecord?.offset, 38)
    }

    func testTopLevelNotAnObject() {
        let (_, error) = readEvents("[1, 2, 3]")
        XCTAssertEqual(error?.kind, .notAnObject)
        XCTAssertTrue(error!.message.contains("the document is an array, not an object"), error!.message)
    }

    func testTruncatedAndEmptyDocuments() {
        let text = #"{"version": "1.0", "data": {"concepts": [{"concept_id": "c1"}, {"concept_id": "c2"}]}}"#
        let bytes = Array(text.utf8)
        for cut in 0..<bytes.count {
            let (_, error) = readEvents(Array(bytes[0..<cut]))
            XCTAssertEqual(error?.kind, .truncated, "cut at \(cut)")
            XCTAssertEqual(error?.offset, cut)
        }
        XCTAssertTrue(readEvents("").error!.message.contains("empty"))
        XCTAssertTrue(readEvents(Array(bytes[0..<50])).error!.message.contains("truncated"))
    }

    func testTrailingGarbage() {
        let (events, error) = readEvents(#"{"version": "1.0"}  {"again": 1}"#)
        XCTAssertEqual(error?.kind, .trailingData)
        XCTAssertEqual(error?.offset, 20)
        XCTAssertEqual(events, [.metadata(key: "version", value: "1.0")])
        XCTAssertNil(readEvents("{\"version\": \"1.0\"}\n\n").error)
    }

    func testInvalidUTF8InAString() {
        var bytes = Array(#"{"data": {"concepts": [{"label": "ab"#.utf8)
        let badOffset = bytes.count
        bytes += [0xC3, 0x28]  // a lead byte followed by a non-continuation byte
        bytes += Array(#""}]}}"#.utf8)
        for size in [1, 1000] {
            let (_, error) = readEvents(bytes, chunkSize: size)
            XCTAssertEqual(error?.kind, .invalidUTF8)
            XCTAssertEqual(error?.offset, badOffset)
        }
        // Overlong encodings, surrogates and lone surrogate escapes are rejected too.
        for seq: [UInt8] in [[0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF]] {
            let doc = Array(#"{"s": ""#.utf8) + seq + Array(#""}"#.utf8)
            XCTAssertEqual(readEvents(doc).error?.kind, .invalidUTF8, "\(seq)")
        }
        XCTAssertEqual(readEvents(#"{"s": "\ud800"}"#).error?.kind, .invalidUTF8)
        XCTAssertEqual(readEvents(#"{"s": "\udc00\ud800"}"#).error?.kind, .invalidUTF8)
        // Multi-byte characters split across chunks are fine.
        XCTAssertEqual(
            readEvents(#"{"s": "日本語 ü 😀"}"#, chunkSize: 1).events.first,
            .metadata(key: "s", value: "日本語 ü 😀"))
    }

    func testDeepNestingIsRefusedWithoutOverflowingTheStack() {
        let deep = "{\"data\": {\"concepts\": [" + String(repeating: "[", count: 1_000_000)
        let (_, error) = readEvents(deep)
        XCTAssertEqual(error?.kind, .tooDeep)
        XCTAssertTrue(error!.message.contains("256"), error!.message)
        // Right at the limit is fine: document 1, data 2, section 3, then 253 more.
        let atLimit =
            "{\"data\": {\"concepts\": [" + String(repeating: "[", count: 253)
            + String(repeating: "]", count: 253) + "]}}"
        XCTAssertNil(readEvents(atLimit).error)
        let overLimit =
            "{\"data\": {\"concepts\": [" + String(repeating: "[", count: 254)
            + String(repeating: "]", count: 254) + "]}}"
        XCTAssertEqual(readEvents(overLimit).error?.kind, .tooDeep)
        XCTAssertEqual(readEvents(overLimit, chunkSize: 1).error?.kind, .tooDeep)
    }

    /// Issue 12 item 2: a value's memory is bounded, not its content. The structure and
    /// short strings of one value are held up to `maxValueBytes`; a string of a record
    /// longer than `maxInlineStringBytes` is streamed and does not count.
    func testStructureOverTheMemoryLimitIsRefused() {
        let limits = BackupReaderLimits(maxDepth: 256, maxValueBytes: 1000, maxInlineStringBytes: 2000)
        let big = "{\"data\": {\"sources\": [{\"full_text\": \"" + String(repeating: "x", count: 1500) + "\"}]}}"
        for size in [1, 100, 100_000] {
            let (_, error) = readEvents(big, chunkSize: size, limits: limits)
            XCTAssertEqual(error?.kind, .valueTooLarge)
            XCTAssertEqual(error?.offset, 22 + 1000)
            XCTAssertTrue(error!.message.contains("data.sources[0]"), error!.message)
        }
        // Many short strings: each under the inline limit, together over the memory limit.
        let many =
            "{\"data\": {\"sources\": [["
            + Array(repeating: "\"" + String(repeating: "y", count: 50) + "\"", count: 40)
            .joined(separator: ",") + "]]}}"
        XCTAssertEqual(readEvents(many, chunkSize: 13, limits: limits).error?.kind, .valueTooLarge)
        // A value of exactly the limit passes.
        let exact = "{\"k\": \"" + String(repeating: "x", count: 998) + "\"}"
        XCTAssertNil(readEvents(exact, chunkSize: 7, limits: limits).error)
    }

    /// The text of the long-string tests: escapes of every kind, 2-, 3- and 4-byte
    /// UTF-8 raw and escaped (a surrogate pair), a quote at the very end.
    static let longText = String(repeating: "ab\"c\\d\n\t\u{01}\u{E9}\u{20AC}\u{1D11E}/x", count: 300) + "\u{0}end\""

    static func longDocument(_ text: String) -> [UInt8] {
        var quoted: [UInt8] = []
        JSONEscaping.appendQuoted(text, to: &quoted)
        // Also an escaped surrogate pair and an escaped slash, which appendQuoted does not write.
        let extra = Array(#"\ud834\udd1e\/"#.utf8)
        quoted.insert(contentsOf: extra, at: 1)
        return Array(#"{"version": "1.0", "data": {"sources": [{"source_id": "s1", "full_text": "#.utf8) + quoted
            + Array(#", "document": "d"}, {"source_id": "s2", "full_text": "short"}]}}"#.utf8)
    }

    func testLongStringsAreStreamedAndKeptAside() throws {
        let limits = BackupReaderLimits(maxDepth: 256, maxValueBytes: 1000, maxInlineStringBytes: 100)
        let expected = Array("\u{1D11E}/".utf8) + Array(Self.longText.utf8)
        let document = Self.longDocument(Self.longText)
        let directory = NSTemporaryDirectory() + "kg-long-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for size in [1, 7, 100, 4096, 1 << 20] {
            var seen: [(String, LargeString?, [UInt8]?)] = []
            var kept: LargeString?
            let reader = BackupStreamReader(limits: limits, spillDirectory: directory) { event in
                guard case .record(_, _, let value) = event else { return }
                let text = value["full_text"]
                var bytes: [UInt8]?
                if let large = text?.largeStringValue {
                    var collected: [UInt8] = []
                    try large.forEachPiece(pieceSize: 333) { collected.append(contentsOf: $0) }
                    bytes = collected
                    kept = large
                }
                seen.append((value["source_id"]?.stringValue ?? "?", text?.largeStringValue, bytes))
                XCTAssertEqual(value["document"]?.stringValue ?? "d", "d")
            }
            var i = 0
            while i < document.count {
                try reader.feed(Array(document[i..<min(document.count, i + size)]))
                i += size
            }
            try reader.finish()
            XCTAssertEqual(seen.count, 2, "chunk \(size)")
            XCTAssertEqual(seen[0].1?.byteCount, expected.count, "chunk \(size)")
            XCTAssertEqual(seen[0].1?.containsNUL, true, "chunk \(size)")
            XCTAssertTrue(seen[0].2 == expected, "chunk \(size): the bytes read back differ")
            XCTAssertNil(seen[1].1, "a short string stays a String")
            // Readable only while its record is handled.
            XCTAssertEqual(kept?.isReadable, false)
            XCTAssertThrowsError(try kept?.forEachPiece { _ in })
        }
        // No file is left in the directory (the spill file never had a name there for long).
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [])
    }

    func testLongStringsAreCheckedWithoutBeingKept() throws {
        let limits = BackupReaderLimits(maxDepth: 256, maxValueBytes: 1000, maxInlineStringBytes: 100)
        var large: LargeString?
        let reader = BackupStreamReader(limits: limits) { event in
            if case .record(_, 0, let value) = event {
                large = value["full_text"]?.largeStringValue
                XCTAssertEqual(value.pathToNUL, ".full_text")
                XCTAssertEqual(value["full_text"]?.kind, .string)
                XCTAssertThrowsError(try large?.forEachPiece { _ in })
            }
        }
        try reader.feed(Self.longDocument(Self.longText))
        try reader.finish()
        XCTAssertEqual(large?.byteCount, Self.longText.utf8.count + 5)
    }

    /// A long string is checked as strictly as a short one, with the same kinds of error,
    /// at the same offsets, however the input is chunked.
    func testLongStringErrorsMatchShortOnes() {
        let long = BackupReaderLimits(maxDepth: 256, maxValueBytes: 1 << 20, maxInlineStringBytes: 16)
        let short = BackupReaderLimits(maxDepth: 256, maxValueBytes: 1 << 20, maxInlineStringBytes: 1 << 20)
        let pad = String(repeating: "p", count: 40)
        let bodies: [(String, BackupReadError.Kind)] = [
            (pad + "\u{01}", .notJSON), (pad + #"\x"#, .notJSON), (pad + #"\u12G4"#, .notJSON),
            (pad + #"\ud800x"#, .invalidUTF8), (pad + #"\udc00"#, .invalidUTF8),
        ]
        for (body, kind) in bodies {
            let text = #"{"data": {"sources": [{"full_text": ""# + body + #""}]}}"#
            let reference = readEvents(text, limits: short).error
            XCTAssertEqual(reference?.kind, kind, body)
            for size in [1, 5, 1000] {
                let error = readEvents(text, chunkSize: size, limits: long).error
                XCTAssertEqual(error?.kind, kind, "\(body) in chunks of \(size)")
                XCTAssertEqual(error?.offset, reference?.offset, "\(body) in chunks of \(size)")
            }
        }
        var invalid = Array(#"{"data": {"sources": [{"full_text": ""#.utf8) + Array(pad.utf8) + [0xC3, 0x28]
        invalid += Array(#""}]}}"#.utf8)
        XCTAssertEqual(readEvents(invalid, chunkSize: 3, limits: long).error?.kind, .invalidUTF8)
        XCTAssertEqual(readEvents(invalid, chunkSize: 3, limits: long).error?.offset, readEvents(invalid, limits: short).error?.offset)
        // A later syntax error is reported at its document offset, past the long string.
        let later = #"{"data": {"sources": [{"full_text": ""# + pad + #"", "x": tru}]}}"#
        XCTAssertEqual(readEvents(later, chunkSize: 3, limits: long).error?.offset, readEvents(later, limits: short).error?.offset)
        // A long member name is refused (names are held whole).
        let key = #"{"data": {"sources": [{""# + pad + #"": 1}]}}"#
        XCTAssertEqual(readEvents(key, limits: long).error?.kind, .valueTooLarge)
        // A raw 0x00 outside a string is still not JSON.
        XCTAssertEqual(readEvents(Array(#"{"data": {"sources": [{"a": "#.utf8) + [0] + Array("}]}}".utf8), limits: long).error?.kind, .notJSON)
    }

    func testHandlerErrorsPropagateAndStopTheReader() {
        struct Stop: Error {}
        let reader = BackupStreamReader { event in
            if case .metadata = event { throw Stop() }
        }
        XCTAssertThrowsError(try reader.feed(Array(#"{"a": 1, "b": 2}"#.utf8))) { XCTAssertTrue($0 is Stop) }
        XCTAssertThrowsError(try reader.finish()) { XCTAssertTrue($0 is Stop) }
    }

    func testDuplicateKeysAreAllReported() {
        let (events, _) = readEvents(#"{"a": 1, "a": 2, "o": {"k": 1, "k": 2}}"#)
        XCTAssertEqual(events[0], .metadata(key: "a", value: 1))
        XCTAssertEqual(events[1], .metadata(key: "a", value: 2))
        guard case .metadata(_, let o) = events[2] else { return XCTFail() }
        XCTAssertEqual(o.objectMembers?.count, 2)
        XCTAssertEqual(o["k"], 2)
    }
}
