import Foundation
import KGClient
import XCTest

final class HTTPClientTimeoutTests: ServerTestCase {
    func testRequestTimeoutWhenTheServerNeverAnswers() {
        let client = HTTPClient(baseURL: server.baseURL, token: TestServer.token, requestTimeout: 1)
        let started = Date()
        XCTAssertThrowsError(try client.request(method: "GET", path: "/stall")) { error in
            guard case .transferInterrupted(let message)? = error as? HTTPClientError else {
                return XCTFail("expected transferInterrupted, got \(error)")
            }
            XCTAssertTrue(message.contains("did not answer in time"), message)
            print("silent server reads: \(error)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testLowSpeedLimitAbortsAStalledDownload() {
        let client = HTTPClient(
            baseURL: server.baseURL, token: TestServer.token, lowSpeedLimit: LowSpeedLimit(bytesPerSecond: 100, seconds: 1))
        let started = Date()
        var received = 0
        XCTAssertThrowsError(try client.download(path: "/stall?head=1", onData: { received += $0.count })) { error in
            guard case .transferInterrupted? = error as? HTTPClientError else {
                return XCTFail("expected transferInterrupted, got \(error)")
            }
            print("stalled download reads: \(error)")
        }
        XCTAssertEqual(received, "first bytes".utf8.count)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    func testStreamsHaveNoTotalTimeout() throws {
        let client = HTTPClient(baseURL: server.baseURL, token: TestServer.token, requestTimeout: 0.2)
        var count = 0
        let started = Date()
        try client.streamEvents(path: "/events-forever") { _ in
            count += 1
            return count < 12
        }
        XCTAssertGreaterThan(Date().timeIntervalSince(started), 0.4, "outlived requestTimeout")
    }
}
