import XCTest
@testable import KGFormat

final class JSONValueTests: XCTestCase {
    func testEscaping() {
        var out: [UInt8] = []
        JSONEscaping.appendQuoted("a\"b\\c\n\t\u{01}\u{1f}é😀/", to: &out)
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "\"a\\\"b\\\\c\\n\\t\\u0001\\u001fé😀/\"")
    }
}
