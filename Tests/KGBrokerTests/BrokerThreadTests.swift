import Foundation
import KGBroker
import XCTest

final class BrokerThreadTests: XCTestCase {
    func testRunsSeriallyOnOneThreadOffThePool() async throws {
        let thread = BrokerThread(name: "kg-test-thread")
        defer { thread.stop() }
        let onThread = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask { try await thread.run { thread.isCurrent } }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        XCTAssertEqual(onThread, Array(repeating: true, count: 20))
        XCTAssertEqual(try thread.runSync { thread.isCurrent }, true)
        XCTAssertFalse(thread.isCurrent)
    }

    func testErrorsPropagateAndStopRefusesWork() async throws {
        let thread = BrokerThread(name: "kg-test-thread")
        do {
            _ = try await thread.run { () throws -> Int in throw BrokerError.protocolError("boom") }
            XCTFail("expected an error")
        } catch BrokerError.protocolError(let why) {
            XCTAssertEqual(why, "boom")
        }
        XCTAssertTrue(thread.stop())
        do {
            _ = try await thread.run { 1 }
            XCTFail("expected .stopped")
        } catch BrokerError.stopped {}
    }

    func testTickRunsWhileIdle() throws {
        let thread = BrokerThread(name: "kg-test-thread")
        defer { thread.stop() }
        let ticks = Collected<Int>()
        thread.setTick(interval: 0.05) { ticks.append(1) }
        XCTAssertTrue(TestBroker.eventually(timeout: 2) { ticks.count >= 3 })
    }
}
