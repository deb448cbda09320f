import Foundation
import KGClient
import XCTest

final class HTTPResponseTests: XCTestCase {
    private func response(_ status: Int, _ body: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [:], body: Data(body.utf8))
    }

    func testErrorMessageShapes() {
        XCTAssertEqual(
            response(403, #"{"error": "forbidden", "detail": "admin role required"}"#).errorMessage,
            "forbidden: admin role required")
        XCTAssertEqual(
            response(409, #"{"error": "a restore is already running"}"#).errorMessage,
            "a restore is already running")
        XCTAssertEqual(response(409, #"{"error": "conflict", "detail": null}"#).errorMessage, "conflict")
        XCTAssertEqual(
            response(400, #"{"error": "invalid backup", "detail": {"errors": [{"category": "schema"}]}}"#).errorMessage,
            #"invalid backup: {"errors":[{"category":"schema"}]}"#)
        XCTAssertEqual(response(422, #"{"detail": "bad field"}"#).errorMessage, "bad field")
        XCTAssertNil(response(500, "<html>oops</html>").errorMessage)
        XCTAssertNil(response(500, #"["not", "an", "object"]"#).errorMessage)
        XCTAssertNil(response(500, "").errorMessage)
    }

    func testRequireSuccess() throws {
        XCTAssertNoThrow(try response(204, "").requireSuccess())
        XCTAssertThrowsError(try response(503, #"{"error": "broker down"}"#).requireSuccess()) { error in
            XCTAssertEqual(
                error as? HTTPClientError,
                .http(status: 503, message: "broker down", body: Data(#"{"error": "broker down"}"#.utf8)))
            XCTAssertEqual("\(error)", "the gateway answered 503 Service Unavailable: broker down")
        }
        XCTAssertThrowsError(try response(502, "<html>Bad Gateway</html>").requireSuccess()) { error in
            XCTAssertEqual((error as? HTTPClientError)?.httpStatus, 502)
            XCTAssertTrue("\(error)".contains("<html>Bad Gateway</html>"), "\(error)")
        }
    }

    func testDecodeJSON() throws {
        struct Job: Decodable, Equatable { let job_id: String; let status: String }
        let job = try response(200, #"{"job_id": "j1", "status": "queued", "extra": 1}"#).decodeJSON(Job.self)
        XCTAssertEqual(job, Job(job_id: "j1", status: "queued"))
    }

    func testErrorDescriptionsSayWhatToDo() {
        let unreachable = HTTPClientError.unreachable(url: "http://127.0.0.1:8080", message: "connection refused")
        XCTAssertEqual(
            "\(unreachable)",
            "cannot reach the kg gateway at http://127.0.0.1:8080: connection refused — is the gateway running and is api_url right?")
        XCTAssertEqual(unreachable.localizedDescription, "\(unreachable)")
        XCTAssertTrue("\(HTTPClientError.http(status: 401, message: "unauthorized", body: Data()))".contains("log in again"))
        XCTAssertTrue("\(HTTPClientError.http(status: 403, message: "forbidden", body: Data()))".contains("admin role"))
    }
}
