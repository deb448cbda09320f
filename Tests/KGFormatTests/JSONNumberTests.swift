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

    /// The grammar's eight-bytes-at-a-time digit scan agrees with a byte-by-byte reading
    /// for every length and every position and kind of the first non-digit.
    func testTheWordWiseDigitScanAgreesWithByteByByte() {
        func reference(_ bytes: [UInt8]) -> Int? {
            var i = 0
            func digits() { while i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 { i += 1 } }
            if i < bytes.count && bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count else { return nil }
            if bytes[i] == UInt8(ascii: "0") { i += 1 } else if bytes[i] >= 0x31 && bytes[i] <= 0x39 { digits() } else { return nil }
            if i < bytes.count && bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 else { return nil }
                digits()
            }
            if i < bytes.count && (bytes[i] | 0x20) == UInt8(ascii: "e") {
                i += 1
                if i < bytes.count && (bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-")) { i += 1 }
                guard i < bytes.count && bytes[i] >= 0x30 && bytes[i] <= 0x39 else { return nil }
                digits()
            }
            return i
        }
        // Every byte that borders the digits in value: "/" and ":" (0x2F, 0x3A), high bytes, NUL.
        let breakers: [UInt8] = [0x2F, 0x3A, 0x00, 0x80, 0xB0, 0xB9, 0xFF, 0x20, 0x2C, 0x5D, 0x65, 0x2E]
        for length in 1...26 {
            for position in 0...length {
                for breaker in breakers {
                    var bytes = Array(repeating: UInt8(ascii: "7"), count: length)
                    if position < length { bytes[position] = breaker }
                    for prefix in [[], [UInt8(ascii: "0"), UInt8(ascii: ".")], [UInt8(ascii: "-"), UInt8(ascii: "1")]] as [[UInt8]] {
                        let all = prefix + bytes
                        let got = all.withUnsafeBufferPointer { JSONNumberGrammar.validLength($0.baseAddress!, 0, $0.count) }
                        XCTAssertEqual(got, reference(all), "\(all)")
                    }
                }
            }
        }
    }
}
