import Foundation
import KGClient
import XCTest

/// A test case with the fixture server running for the whole class.
class ServerTestCase: XCTestCase {
    nonisolated(unsafe) static var server: TestServer!

    override class func setUp() {
        super.setUp()
        do {
            server = try TestServer()
        } catch {
            fatalError("cannot start the test server: \(error)")
        }
    }

    override class func tearDown() {
        server?.stop()
        server = nil
        super.tearDown()
    }

    var server: TestServer { Self.server }

    func makeClient(token: String? = TestServer.token) -> HTTPClient {
        HTTPClient(baseURL: server.baseURL, token: token)
    }
}
