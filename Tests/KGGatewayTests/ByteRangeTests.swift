import XCTest

@testable import KGGateway

/// `Range: bytes=…` as `GET /jobs/{id}/backup` reads it (RFC 9110 §14.1.2).
final class ByteRangeTests: XCTestCase {
    func testOpenClosedAndSuffixRanges() {
        XCTAssertEqual(ByteRange(header: "bytes=100-")?.span(length: 1000), 100..<1000)
        XCTAssertEqual(ByteRange(header: "bytes=10-19")?.span(length: 1000), 10..<20)
        XCTAssertEqual(ByteRange(header: "bytes=990-5000")?.span(length: 1000), 990..<1000, "a last byte past the end is the end")
        XCTAssertEqual(ByteRange(header: "bytes=-100")?.span(length: 1000), 900..<1000)
        XCTAssertEqual(ByteRange(header: "bytes=-5000")?.span(length: 1000), 0..<1000)
        XCTAssertEqual(ByteRange(header: " bytes=0-")?.start, 0)
    }

    func testUnsatisfiable() {
        XCTAssertNil(ByteRange(header: "bytes=1000-")?.span(length: 1000))
        XCTAssertNotNil(ByteRange(header: "bytes=1000-"), "well formed: 416, not ignored")
    }

    /// What the RFC lets a server ignore (and answer 200 whole) is nil.
    func testMalformedOrMultipleRangesAreIgnored() {
        for header in [
            "bytes=5-2", "items=0-", "bytes=0-1,5-9", "bytes=", "bytes=-", "bytes=a-", "bytes=-0", "bytes=1-x",
            "bytes=99999999999999999999-",
        ] {
            XCTAssertNil(ByteRange(header: header), header)
        }
    }
}
