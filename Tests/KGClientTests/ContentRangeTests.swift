import KGClient
import XCTest

/// `Content-Range` of a 206 as the CLI's resumed download reads it.
final class ContentRangeTests: XCTestCase {
    func testKnownAndUnknownLength() {
        XCTAssertEqual(ContentRange("bytes 100-999/1000"), ContentRange("bytes 100-999/1000"))
        let known = ContentRange("bytes 100-999/1000")
        XCTAssertEqual(known?.first, 100)
        XCTAssertEqual(known?.last, 999)
        XCTAssertEqual(known?.length, 1000)
        let growing = ContentRange("bytes 4096-65535/*")
        XCTAssertEqual(growing?.first, 4096)
        XCTAssertEqual(growing?.last, 65535)
        XCTAssertNil(growing?.length)
    }

    func testMalformed() {
        for header in ["bytes */1000", "bytes 5-2/10", "bytes 0-9/9", "items 0-9/10", "bytes 0-9", "bytes a-9/10"] {
            XCTAssertNil(ContentRange(header), header)
        }
    }
}
