import Foundation
import KGClient
import XCTest

/// Issue 14, finding 3: `http_request_timeout_s` exempts only AUTHENTICATED uploads,
/// and runs again when a response ends before its request's body (Hummingbird then
/// drains the body: without a deadline one byte now and then held the connection for ever).
final class RequestDeadlineTests: XCTestCase {
    var stack: TestStack!
    static let requestTimeout = 3.0
    /// Longer than the request timeout: only that one may cut the trickles below.
    static let idleTimeout = 20.0

    override func setUpWithError() throws {
        stack = try TestStack(
            workers: 0,
            environment: [
                "KG_HTTP_REQUEST_TIMEOUT": String(Self.requestTimeout),
                "KG_HTTP_IDLE_TIMEOUT": String(Self.idleTimeout),
            ])
    }

    override func tearDown() {
        stack?.stop()
    }

    /// The head of a multipart upload of `length` bytes to `path`, with `token` if any.
    static func uploadHead(path: String = "/admin/restore", token: String?, length: Int = 10_000_000) -> String {
        "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (token.map { "Authorization: Bearer \($0)\r\n" } ?? "")
            + "Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: \(length)\r\n\r\n"
    }

    /// A trickled body: a byte every 0.25 s, never idle, never done.
    static let trickle =
        "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.json\"\r\n\r\n"
        + String(repeating: "{", count: 400)

    func testUnauthenticatedUploadIsNotExempt() throws {
        let connection = try RawHTTPConnection(port: stack.gatewayPorts[0])
        try connection.send(Self.uploadHead(token: nil))
        let cut = connection.trickle(Self.trickle, every: 0.25, limit: Self.requestTimeout * 4)
        let seconds = try XCTUnwrap(cut.seconds, "an unauthenticated upload trickled for \(Self.requestTimeout * 4) s and was never cut")
        XCTAssertTrue(cut.received.hasPrefix("HTTP/1.1 401"), cut.received)
        XCTAssertLessThan(seconds, Self.requestTimeout * 2)
        print("RequestDeadlineTests: unauthenticated trickled upload answered 401 and cut after \(String(format: "%.2f", seconds)) s")
    }

    /// An authenticated upload answered before its body ends (403: a reader may not
    /// restore) is timed again from the answer.
    func testAnUploadAnsweredEarlyIsTimedAgain() throws {
        try stack.addUser("reader", role: "reader", password: "reader-pw")
        let token = try stack.token("reader", password: "reader-pw")
        let connection = try RawHTTPConnection(port: stack.gatewayPorts[0])
        try connection.send(Self.uploadHead(token: token))
        let cut = connection.trickle(Self.trickle, every: 0.25, limit: Self.requestTimeout * 4)
        let seconds = try XCTUnwrap(cut.seconds, "the drained body of an answered upload was never cut")
        XCTAssertTrue(cut.received.hasPrefix("HTTP/1.1 403"), cut.received)
        XCTAssertLessThan(seconds, Self.requestTimeout * 2)

        // An admin's upload refused for its size (413) before the body: the same.
        let admin = try stack.token()
        let big = try RawHTTPConnection(port: stack.gatewayPorts[0])
        try big.send(Self.uploadHead(token: admin, length: 64 * 1024 * 1024 * 1024))
        let bigCut = big.trickle(Self.trickle, every: 0.25, limit: Self.requestTimeout * 4)
        XCTAssertNotNil(bigCut.seconds, "the drained body of a refused upload was never cut: \(bigCut.received)")
        XCTAssertTrue(bigCut.received.hasPrefix("HTTP/1.1 413"), bigCut.received)
    }

    /// An authenticated admin's upload that keeps sending for longer than the timeout is
    /// still exempt, and answered.
    func testAuthenticatedUploadIsStillExempt() throws {
        let token = try stack.token()
        let fixture = try Data(contentsOf: URL(fileURLWithPath: TestStack.fixtureBackup))
        var body = Data("--xyz\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n".utf8)
        body += Data("--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.json\"\r\n".utf8)
        body += Data("Content-Type: application/json\r\n\r\n".utf8) + fixture + Data("\r\n--xyz--\r\n".utf8)
        let connection = try RawHTTPConnection(port: stack.gatewayPorts[0])
        try connection.send(Self.uploadHead(token: token, length: body.count))
        let start = Date()
        let pieces = 10
        for i in 0..<pieces {
            try connection.send(body.subdata(in: (body.count * i / pieces)..<(body.count * (i + 1) / pieces)))
            usleep(UInt32(Self.requestTimeout * 2 / Double(pieces) * 1_000_000))
        }
        XCTAssertGreaterThan(Date().timeIntervalSince(start), Self.requestTimeout * 1.5)
        guard case .data(let answer) = connection.read(timeout: 10) else { return XCTFail("the slow authenticated upload was cut") }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 202"), answer)
    }
}
