import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import XCTest

/// The gateway's answers as a client reads them: a JSON object, an `APIError`'s `error` and `detail`.
extension TestResponse {
    func jsonObject() throws -> [String: Any] {
        let text = String(buffer: body)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try XCTUnwrap(object as? [String: Any], text)
    }

    /// The `error` of an `APIError` body: the message a client shows.
    func apiError() throws -> String {
        try XCTUnwrap(try jsonObject()["error"] as? String, String(buffer: body))
    }

    /// The `detail` of an `APIError` body, when it is text.
    func apiDetail() throws -> String {
        try XCTUnwrap(try jsonObject()["detail"] as? String, String(buffer: body))
    }
}

extension TestResponse {
    /// Asserts the status of an answer and, when given, its `APIError` message and detail.
    func assertAPIError(
        _ status: HTTPResponse.Status, error: String? = nil, detail: String? = nil, note: String = "",
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        XCTAssertEqual(self.status, status, note, file: file, line: line)
        if let error { XCTAssertEqual(try apiError(), error, note, file: file, line: line) }
        if let detail { XCTAssertEqual(try apiDetail(), detail, note, file: file, line: line) }
    }
}
