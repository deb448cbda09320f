import Foundation
import KGClient
import KGTestSupport
import XCTest

final class HTTPClientRequestTests: ServerTestCase {
    private struct Echo: Decodable {
        let method: String
        let path: String
        let headers: [String: String]
        let body: String
    }

    func testJSONRequestCarriesBearerTokenAndNoExpect() throws {
        let body = Data(#"{"backup_type": "full"}"#.utf8)
        let response = try makeClient().request(method: "POST", path: "/echo?x=1", json: body)
        XCTAssertEqual(response.status, 200)
        XCTAssertEqual(response.headers["content-type"], "application/json", "header names are lower-cased")
        let echo = try response.decodeJSON(Echo.self)
        XCTAssertEqual(echo.method, "POST")
        XCTAssertEqual(echo.path, "/echo?x=1")
        XCTAssertEqual(echo.body, #"{"backup_type": "full"}"#)
        XCTAssertEqual(echo.headers["authorization"], "Bearer secret-token")
        XCTAssertEqual(echo.headers["content-type"], "application/json")
        XCTAssertEqual(echo.headers["accept"], "application/json")
        XCTAssertEqual(echo.headers["user-agent"], HTTPClient.defaultUserAgent)
        XCTAssertNil(echo.headers["expect"])
    }

    func testMethodsAndCallerHeaders() throws {
        let client = makeClient()
        let delete = try client.request(method: "DELETE", path: "/echo", headers: ["X-Trace": "abc", "accept": "text/plain"])
            .requireSuccess().decodeJSON(Echo.self)
        XCTAssertEqual(delete.method, "DELETE")
        XCTAssertEqual(delete.headers["x-trace"], "abc")
        XCTAssertEqual(delete.headers["accept"], "text/plain", "the caller's header replaces the default")

        let get = try client.request(method: "get", path: "echo").decodeJSON(Echo.self)
        XCTAssertEqual(get.method, "GET")
        XCTAssertEqual(get.path, "/echo")

        let put = try client.request(method: "PUT", path: "/echo", json: Data("[1]".utf8)).decodeJSON(Echo.self)
        XCTAssertEqual(put.method, "PUT")
        XCTAssertEqual(put.body, "[1]")

        let emptyPost = try client.request(method: "POST", path: "/echo").decodeJSON(Echo.self)
        XCTAssertEqual(emptyPost.headers["content-length"], "0")
    }

    func testMissingTokenIsRefusedWithTheGatewaysMessage() throws {
        let response = try makeClient(token: nil).request(method: "POST", path: "/echo", json: Data("{}".utf8))
        XCTAssertEqual(response.status, 401)
        XCTAssertEqual(response.errorMessage, "unauthorized: missing or invalid bearer token")
        XCTAssertThrowsError(try response.requireSuccess()) { error in
            XCTAssertEqual((error as? HTTPClientError)?.httpStatus, 401)
            print("401 reads: \(error)")
        }
    }

    func testForbiddenErrorBody() throws {
        let response = try makeClient().request(method: "GET", path: "/forbidden")
        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(response.errorMessage, "forbidden: admin role required")
    }

    func testConnectionRefusedIsUnreachable() {
        let base = "http://127.0.0.1:\(freePort())"
        let client = HTTPClient(baseURL: base, token: nil)
        XCTAssertThrowsError(try client.request(method: "GET", path: "/healthz")) { error in
            guard case .unreachable(let url, let message)? = error as? HTTPClientError else {
                return XCTFail("expected unreachable, got \(error)")
            }
            XCTAssertEqual(url, base)
            XCTAssertEqual(message, "connection refused")
            print("refused reads: \(error)")
        }
    }

    func testUnknownHostIsUnreachable() {
        let client = HTTPClient(baseURL: "http://no-such-host.invalid:8080", token: nil, connectTimeout: 5)
        XCTAssertThrowsError(try client.request(method: "GET", path: "/healthz")) { error in
            guard case .unreachable? = error as? HTTPClientError else {
                return XCTFail("expected unreachable, got \(error)")
            }
            print("unknown host reads: \(error)")
        }
    }

    func testTLSToAPlainHTTPServerIsATLSError() {
        let client = HTTPClient(baseURL: "https://127.0.0.1:\(server.port)", token: nil)
        XCTAssertThrowsError(try client.request(method: "GET", path: "/echo")) { error in
            guard case .tls? = error as? HTTPClientError else { return XCTFail("expected tls, got \(error)") }
            print("tls reads: \(error)")
        }
    }

    func testUnreadableCACertificateIsATLSError() {
        let client = HTTPClient(baseURL: "https://127.0.0.1:\(server.port)", token: nil, caCertPath: "/nonexistent/ca.pem")
        XCTAssertThrowsError(try client.request(method: "GET", path: "/echo")) { error in
            guard case .tls? = error as? HTTPClientError else { return XCTFail("expected tls, got \(error)") }
        }
    }

    func testBadURLAndHeaderAreInvalidRequests() {
        XCTAssertThrowsError(try HTTPClient(baseURL: "ftp://x", token: nil).request(method: "GET", path: "/")) { error in
            guard case .invalidRequest? = error as? HTTPClientError else { return XCTFail("got \(error)") }
        }
        XCTAssertThrowsError(try makeClient().request(method: "GET", path: "/echo", headers: ["X-Evil": "a\r\nInjected: 1"])) { error in
            guard case .invalidRequest? = error as? HTTPClientError else { return XCTFail("got \(error)") }
        }
        XCTAssertThrowsError(try makeClient().request(method: "GE T", path: "/echo")) { error in
            guard case .invalidRequest? = error as? HTTPClientError else { return XCTFail("got \(error)") }
        }
    }

    func testCancelledClientRefusesNewCalls() {
        let client = makeClient()
        client.cancel()
        XCTAssertThrowsError(try client.request(method: "GET", path: "/echo")) { error in
            XCTAssertEqual(error as? HTTPClientError, .cancelled)
        }
    }
}
