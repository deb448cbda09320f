import XCTest
@testable import KGFormat

final class JSONNumberTests: XCTestCase {
    /// Literals on both sides of the inline capacity keep their exact text.
    func testTextSurvivesInlineAndLongStorage() {
        for length in [1, 2, 15, 16, 22, 23, 24, 40, 400] {
            let text = "1" + String(repeating: "0", count: length - 1)
            let number = JSONNumber(text)
            XCTAssertEqual(number.text, text, "length \(length)")
            var out: [UInt8] = []
            number.append(to: &out)
            XCTAssertEqual(String(decoding: out, as: UTF8.self), text, "length \(length)")
        }
    }

    func testEqualityIsTextualAndAgreesWithHashing() {
        XCTAssertEqual(JSONNumber("0.4831297575436466"), JSONNumber("0.4831297575436466"))
        XCTAssertNotEqual(JSONNumber("1.0"), JSONNumber("1"))
        XCTAssertNotEqual(JSONNumber("1"), JSONNumber("10"), "zero padding must not make a prefix equal")
        let long = String(repeating: "9", count: 30)
        XCTAssertEqual(JSONNumber(long), JSONNumber(long))
        XCTAssertNotEqual(JSONNumber(long), JSONNumber(long + "9"))
        let set: Set<JSONNumber> = [JSONNumber("2.5"), JSONNumber("2.5"), JSONNumber(long), JSONNumber(long)]
        XCTAssertEqual(set.count, 2)
    }

    /// The reader's numbers compare equal to numbers built from text, whatever their length.
    func testParsedNumbersMatchBuiltOnes() throws {
        let long = "-0.10000000000000000555111512312578270211815834045"
        let parsed = try JSONValue.parse("[0.4831297575436466,-1.5e-300,\(long),7]")
        XCTAssertEqual(parsed, .array([.number("0.4831297575436466"), .number("-1.5e-300"), .number(JSONNumber(long)), 7]))
        XCTAssertEqual(parsed[2]?.numberLiteral, long)
        XCTAssertEqual(parsed[3]?.intValue, 7)
        XCTAssertEqual(parsed[1]?.doubleValue, -1.5e-300)
    }
}
