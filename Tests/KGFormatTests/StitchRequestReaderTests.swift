import KGFormat
import XCTest

/// The stitch request reader: references one at a time, whatever the chunking; options kept; errors name the field.
final class StitchRequestReaderTests: XCTestCase {
    private func read(_ text: String, chunk: Int) throws -> ([StitchReference], StitchRequestReader.Options) {
        var found: [StitchReference] = []
        let reader = StitchRequestReader { found.append($0) }
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            let end = min(bytes.count, i + chunk)
            try bytes[i..<end].withUnsafeBytes { try reader.feed($0) }
            i = end
        }
        return (found, try reader.finish())
    }

    func testReferencesAndOptionsWhateverTheChunking() throws {
        let text =
            #"{"threshold": 0.9, "references": [{"concept_id": "a", "label": "A", "embedding": [0.5, -1e-3]},"#
            + #" {"concept_id": "b", "label": null}], "dry_run": true, "unknown": {"data": [1]}, "data": {"references": [{"x": 1}]},"#
            + #" "checkpoint": null, "no_wait": false}"#
        for chunk in [1, 2, 7, 64, 4096] {
            let (references, options) = try read(text, chunk: chunk)
            XCTAssertEqual(
                references,
                [
                    StitchReference(conceptID: "a", label: "A", embedding: [0.5, -0.001]),
                    StitchReference(conceptID: "b", label: nil, embedding: nil),
                ], "chunk \(chunk)")
            XCTAssertEqual(options.threshold, 0.9)
            XCTAssertEqual(options.dryRun, true)
            XCTAssertNil(options.checkpoint)
            XCTAssertEqual(options.noWait, false)
            XCTAssertEqual(options.references, 2)
        }
    }

    func testErrorsNameTheField() {
        let cases: [(String, String?, String)] = [
            (#"{"references": [{"concept_id": "a"}, {"concept_id": 3}]}"#, "references[1].concept_id", "must be a string: not a number"),
            (#"{"references": [{"concept_id": "a", "embedding": [1, NaN]}]}"#, "references[0].embedding[1]", "finite number"),
            (#"{"references": [{"concept_id": "a"}"#, nil, "ends early (truncated) in references after 1 record"),
            (#"{"references": [{"concept_id": "a"} {"#, nil, "expected ',' or ']' after references[0]"),
            (#"{"keep_checkpoint": 1}"#, "keep_checkpoint", "true or false"),
        ]
        for (text, field, message) in cases {
            XCTAssertThrowsError(try read(text, chunk: 3)) { error in
                let error = error as? StitchRequestError
                XCTAssertEqual(error?.field, field, text)
                XCTAssertTrue(error?.message.contains(message) == true, "\(text): \(String(describing: error))")
            }
        }
    }

    /// A backup read without top-level arrays is unchanged: `references` is one metadata value.
    func testBackupReaderWithoutTopLevelArraysIsUnchanged() throws {
        var events: [BackupEvent] = []
        let reader = BackupStreamReader { events.append($0) }
        try reader.feed(Array(#"{"references": [1], "data": {"concepts": [{"concept_id": "c"}]}}"#.utf8))
        try reader.finish()
        XCTAssertEqual(events.first, .metadata(key: "references", value: [.number("1")]))
        XCTAssertTrue(events.contains(.sectionStart(name: "concepts")))
    }
}
