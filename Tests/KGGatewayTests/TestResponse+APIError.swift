import Foundation
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
