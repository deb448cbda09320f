import Foundation
import XCTest

/// A stored login's token goes only to the server that issued it (issue 14,
/// finding 6): `--server` or `KG_API_URL` pointing elsewhere — plain HTTP
/// included — stops the command with exit 4 before anything is sent.
final class TokenBindingTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func testAStoredTokenGoesOnlyToTheServerThatIssuedIt() throws {
        stack = try TestStack(workers: 0)
        try stack.login()
        let elsewhere = try RecordingListener()
        defer { elsewhere.stop() }
        let other = "http://127.0.0.1:\(elsewhere.port)"

        let refused = try stack.kg(["job", "list", "--server", other])
        XCTAssertEqual(refused.exitCode, 4, refused.summary)
        XCTAssertTrue(refused.stderr.contains("kg login --server \(other)"), refused.stderr)
        let viaEnvironment = try stack.kg(["job", "list"], extra: ["KG_API_URL": other])
        XCTAssertEqual(viaEnvironment.exitCode, 4, viaEnvironment.summary)
        XCTAssertEqual(elsewhere.seen.connections, 0, "nothing was sent to the other server: \(elsewhere.seen.text)")

        // The issuing server, however it is spelled, still gets it.
        XCTAssertEqual(try stack.kg(["job", "list"]).exitCode, 0)
        let spelled = stack.apiURL.replacingOccurrences(of: "http://", with: "HTTP://") + "/"
        let same = try stack.kg(["job", "list", "--server", spelled])
        XCTAssertEqual(same.exitCode, 0, same.summary)

        // A token given on purpose is sent where the user says.
        let token = try stack.token()
        let explicit = try stack.kg(["job", "list", "--server", other, "--token", token])
        XCTAssertNotEqual(explicit.exitCode, 0, "the other server answers 404")
        XCTAssertTrue(elsewhere.seen.text.contains("Bearer \(token)"), "the explicit token went where it was told")
    }
}
