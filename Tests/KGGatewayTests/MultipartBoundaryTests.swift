import XCTest
@testable import KGGateway

final class MultipartBoundaryTests: XCTestCase {
    private func parse(_ header: String) -> String? {
        MultipartBoundary.parse(contentType: header).map { String(decoding: $0, as: UTF8.self) }
    }

    func testUnquotedBoundary() {
        XCTAssertEqual(
            parse("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW"),
            "----WebKitFormBoundary7MA4YWxkTrZu0gW")
        XCTAssertEqual(parse("multipart/form-data;boundary=abc"), "abc")
        XCTAssertEqual(parse("multipart/form-data; boundary=abc ; charset=utf-8"), "abc")
    }

    func testQuotedBoundaryMayHoldSpacesAndSpecials() {
        XCTAssertEqual(parse("multipart/form-data; boundary=\"a b:c?=\"; charset=utf-8"), "a b:c?=")
        XCTAssertNil(parse("multipart/form-data; boundary=\"a b;c\""), "; is not a boundary character")
        XCTAssertEqual(parse("multipart/form-data; boundary=\"ab\\:c\""), "ab:c")
    }

    func testNamesAreCaseInsensitiveAndOtherParametersAreSkipped() {
        XCTAssertEqual(parse("Multipart/Form-Data; charset=utf-8; BOUNDARY=xyz"), "xyz")
        XCTAssertEqual(parse("  multipart/form-data ;  boundary = xyz  "), "xyz")
    }

    func testLengthLimitIsSeventy() {
        let seventy = String(repeating: "a", count: 70)
        XCTAssertEqual(parse("multipart/form-data; boundary=\(seventy)"), seventy)
        XCTAssertNil(parse("multipart/form-data; boundary=\(seventy)a"))
    }

    func testMissingOrInvalidBoundaryIsNil() {
        XCTAssertNil(parse("multipart/form-data"))
        XCTAssertNil(parse("multipart/form-data; charset=utf-8"))
        XCTAssertNil(parse("multipart/form-data; boundary="))
        XCTAssertNil(parse("multipart/form-data; boundary=\"\""))
        XCTAssertNil(parse("multipart/form-data; boundary=\"unterminated"))
        XCTAssertNil(parse("multipart/form-data; boundary=a@b"), "@ is not a boundary character")
        XCTAssertNil(parse("multipart/form-data; boundary=\"ends with space \""))
        XCTAssertNil(parse("multipart/form-data; boundary=caf\u{E9}"))
        XCTAssertNil(parse("multipart/form-data; boundary"))
    }

    func testOtherMediaTypesAreNil() {
        XCTAssertNil(parse("multipart/mixed; boundary=abc"))
        XCTAssertNil(parse("application/octet-stream"))
        XCTAssertNil(parse("multipart/form-datax; boundary=abc"))
        XCTAssertNil(parse(""))
    }
}
