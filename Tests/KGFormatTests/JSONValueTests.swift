import XCTest
import KGFormat

final class JSONValueTests: XCTestCase {
    func testEscaping() {
        var out: [UInt8] = []
        JSONEscaping.appendQuoted("a\"b\\c\n\t\r\u{08}\u{0C}\u{01}\u{1f}é😀/\u{7f}", to: &out)
        XCTAssertEqual(
            String(decoding: out, as: UTF8.self),
            "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001fé😀/\u{7f}\"")
        XCTAssertEqual(JSONEscaping.quoted(""), "\"\"")
        XCTAssertEqual(JSONEscaping.quoted("plain"), "\"plain\"")
    }

    func testCompactSerialization() {
        let value: JSONValue = [
            "s": "line\nbreak \"q\"", "n": .number("-1.5e-300"), "big": .number("0.1000000000000000055511151231257827"),
            "t": true, "f": false, "z": nil, "a": [1, [], [:]], "dup": 1, "dup": 2, "ü": "ß",
        ]
        XCTAssertEqual(
            value.jsonText,
            #"{"s":"line\nbreak \"q\"","n":-1.5e-300,"big":0.1000000000000000055511151231257827,"t":true,"f":false,"z":null,"a":[1,[],{}],"dup":1,"dup":2,"ü":"ß"}"#
        )
        XCTAssertEqual(value["dup"], 2, "the last duplicate wins")
        XCTAssertEqual(value.objectMembers?.count, 10, "duplicates are kept")
    }

    func testSerializedTextReadsBackIdentically() {
        let value: JSONValue = ["k": ["\u{0}\u{1f}\"\\/", .number("1E+2"), "日本語", ["nested": [nil, false]]]]
        let (events, error) = readEvents("{\"v\": \(value.jsonText)}", chunkSize: 1)
        XCTAssertNil(error)
        XCTAssertEqual(events.first, .metadata(key: "v", value: value))
    }

    func testAccessors() {
        let value: JSONValue = [
            "s": "x", "i": 42, "d": .number("2.5"), "b": true, "a": [1, 2], "n": nil,
            "huge": .number("123456789012345678901234567890"),
        ]
        XCTAssertEqual(value["s"]?.stringValue, "x")
        XCTAssertEqual(value["i"]?.intValue, 42)
        XCTAssertNil(value["d"]?.intValue)
        XCTAssertEqual(value["d"]?.doubleValue, 2.5)
        XCTAssertNil(value["huge"]?.intValue)
        XCTAssertEqual(value["huge"]?.numberLiteral, "123456789012345678901234567890")
        XCTAssertEqual(value["b"]?.boolValue, true)
        XCTAssertEqual(value["a"]?.arrayValue?.count, 2)
        XCTAssertEqual(value["a"]?[1], 2)
        XCTAssertNil(value["a"]?[5])
        XCTAssertEqual(value["n"]?.isNull, true)
        XCTAssertNil(value["missing"])
        XCTAssertNil(JSONValue.string("x")["k"])
        XCTAssertEqual(value.kind, .object)
        XCTAssertEqual(JSONKind.array.description, "an array")
    }

    func testNumberLiteralValidation() {
        XCTAssertEqual(JSONValue(numberLiteral: "-0.5e+10"), .number("-0.5e+10"))
        for bad in ["", "01", "1.", "+1", "1e", "NaN", " 1", "1 "] {
            XCTAssertNil(JSONValue(numberLiteral: bad), bad)
        }
    }

    func testEqualityIsTextual() {
        XCTAssertNotEqual(JSONValue.number("1.0"), .number("1"))
        XCTAssertNotEqual(["a": 1, "b": 2] as JSONValue, ["b": 2, "a": 1] as JSONValue)
        XCTAssertEqual(["a": [1, "x"]] as JSONValue, ["a": [1, "x"]] as JSONValue)
    }
}
