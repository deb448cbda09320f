import Foundation
@testable import KGFormat
import KGTestSupport
import XCTest

/// Arrays of numbers (embeddings) are read into one `JSONNumberList` instead of a
/// `JSONValue` per element: the same value, written the same, with the same errors.
final class JSONNumberListTests: XCTestCase {
    private func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    func testAnArrayOfNumbersIsOneListEqualToItsElements() throws {
        let value = try parse("[0.25,-1e-7,3,0.4831297575436466]")
        guard case .numbers(let list) = value else { return XCTFail("expected a number list, got \(value)") }
        XCTAssertEqual(list.count, 4)
        XCTAssertTrue(list.plainlyInRange)
        XCTAssertEqual(value, [.number("0.25"), .number("-1e-7"), 3, .number("0.4831297575436466")])
        XCTAssertEqual([.number("0.25"), .number("-1e-7"), 3, .number("0.4831297575436466")], value)
        XCTAssertNotEqual(value, [.number("0.25"), .number("-1e-7"), 3], "one element fewer")
        XCTAssertNotEqual(value, [.number("0.25"), .number("-1e-7"), 3, .number("0.48312975754364660")], "textual, as numbers are")
        XCTAssertEqual(value.jsonText, "[0.25,-1e-7,3,0.4831297575436466]")
        XCTAssertEqual(value.kind, .array)
        XCTAssertEqual(value[1], .number("-1e-7"))
        XCTAssertNil(value[4])
        XCTAssertEqual(value.arrayValue?.count, 4)
        XCTAssertEqual(value.arrayValue?[3].doubleValue, 0.4831297575436466)
    }

    func testWhitespaceBetweenTokensIsDroppedAsTheCompactWriterDropsIt() throws {
        for text in ["[ 1 , 2 ,3 ]", "[1, 2, 3]", "[1 ,2,3]", "[\n  1,\n  2,\n  3\n]", "[1,2,3\t]"] {
            let value = try parse(text)
            guard case .numbers(let list) = value else { return XCTFail("\(text): not a number list") }
            XCTAssertEqual(list.count, 3, text)
            XCTAssertEqual(value.jsonText, "[1,2,3]", text)
            XCTAssertEqual(value, [1, 2, 3], text)
        }
    }

    /// Anything but number literals keeps the general array (and its element rules).
    func testMixedArraysStayGeneralArrays() throws {
        for text in [
            "[1,\"a\"]", "[1,null]", "[null,1]", "[1,NaN]", "[NaN,1]", "[1,-Infinity]", "[-Infinity]", "[1,[2]]",
            "[1,{}]", "[1,true]", "[\"NaN\",2]",
        ] {
            let value = try parse(text)
            guard case .array = value else { return XCTFail("\(text): expected a general array, got \(value)") }
            XCTAssertEqual(value.jsonText, text.replacingOccurrences(of: " ", with: ""), text)
        }
        XCTAssertEqual(try parse("[]"), .array([]))
        XCTAssertEqual(try parse("[[1,2],[3]]").jsonText, "[[1,2],[3]]")
        guard case .array(let outer) = try parse("[[1,2],[3]]"), case .numbers = outer[0] else {
            return XCTFail("nested arrays of numbers are lists too")
        }
    }

    /// Errors inside an array of numbers are the general parser's: same kind, same offset.
    func testErrorsInsideNumberArraysAreReportedWhereTheyAre() {
        let cases: [(String, BackupReadError.Kind, Int)] = [
            ("[1,2", .truncated, 4), ("[1,2 ", .truncated, 5), ("[1,2x]", .notJSON, 3), ("[1,,2]", .notJSON, 3),
            ("[01]", .notJSON, 1), ("[1,2.]", .notJSON, 3), ("[1 2]", .notJSON, 3), ("[1,2}", .notJSON, 4),
            ("[1,-]", .notJSON, 3), ("[1,1e]", .notJSON, 3), ("[1,2] 3", .notJSON, 6),
        ]
        for (text, kind, offset) in cases {
            XCTAssertThrowsError(try parse(text), text) { error in
                guard let error = error as? BackupReadError else { return XCTFail("\(text): \(error)") }
                XCTAssertEqual(error.kind, kind, "\(text): \(error)")
                XCTAssertEqual(error.offset, offset, "\(text): \(error)")
            }
        }
    }

    /// Random arrays of random literals, with random whitespace: the list holds what the
    /// general array would, writes the same text, and knows which elements need converting.
    func testRandomArraysReadAsTheirElements() throws {
        var random = SeededGenerator(seed: 20261206)
        let spaces = ["", "", "", " ", "\n", " \t "]
        for _ in 0..<2_000 {
            var literals: [String] = []
            for _ in 0..<random.int(1...40) {
                switch random.int(0...5) {
                case 0: literals.append(String(random.int(-1000...1000)))
                case 1: literals.append("\(Double(bitPattern: random.next() & 0x3FFF_FFFF_FFFF_FFFF))")
                case 2: literals.append("\(random.int(0...9)).\(random.int(0...999_999))e\(random.int(-400...400))")
                case 3: literals.append("-0." + String(repeating: "0", count: random.int(0...40)) + "1")
                case 4: literals.append("1E+" + String(repeating: "9", count: random.int(1...28)))
                default: literals.append("0.\(random.int(0...Int.max))")
                }
            }
            var text = "[" + random.pick(spaces)
            for (k, literal) in literals.enumerated() {
                if k > 0 { text += random.pick(spaces) + "," + random.pick(spaces) }
                text += literal
            }
            text += random.pick(spaces) + "]"
            let value = try parse(text)
            guard case .numbers(let list) = value else { return XCTFail("\(text): not a number list") }
            XCTAssertEqual(value, .array(literals.map { .number(JSONNumber($0)) }), text)
            XCTAssertEqual(value.jsonText, "[" + literals.joined(separator: ",") + "]", text)
            let expected = literals.allSatisfy { Float8Element.plainlyInRange(JSONNumber($0)) }
            XCTAssertEqual(list.plainlyInRange, expected, text)
            XCTAssertEqual(JSONNumberList(literals), list, text)
        }
    }

    func testTheListOfLiteralsRefusesWhatIsNotANumber() {
        XCTAssertNil(JSONNumberList([]))
        XCTAssertNil(JSONNumberList(["1", "NaN"]))
        XCTAssertNil(JSONNumberList(["1", "x"]))
        XCTAssertEqual(JSONNumberList(["1", "2.5"])?.count, 2)
        XCTAssertEqual(JSONNumberList(["1e400"])?.plainlyInRange, false)
    }
}
