@testable import KGGateway
import XCTest

/// The per-user and per-gateway counts of running backup checks.
final class CheckSlotsTests: XCTestCase {
    func testPerUserThenGatewayLimitsAndRelease() {
        let slots = CheckSlots(perUser: 1, total: 2)
        XCTAssertNil(slots.acquire(user: "ana"))
        XCTAssertEqual(slots.acquire(user: "ana"), .user(running: 1, limit: 1))
        XCTAssertNil(slots.acquire(user: "bo"))
        XCTAssertEqual(slots.acquire(user: "cy"), .gateway(running: 2, limit: 2))
        XCTAssertEqual(slots.running, 2, "refusals take nothing")
        slots.release(user: "ana")
        XCTAssertNil(slots.acquire(user: "cy"))
        XCTAssertEqual(slots.acquire(user: "ana"), .gateway(running: 2, limit: 2))
        slots.release(user: "bo")
        slots.release(user: "cy")
        XCTAssertEqual(slots.running, 0)
    }

    func testZeroMeansNoLimit() {
        let slots = CheckSlots(perUser: 0, total: 0)
        for _ in 0..<50 { XCTAssertNil(slots.acquire(user: "ana")) }
        XCTAssertEqual(slots.running, 50)
    }

    func testConcurrentAcquiresNeverPassTheLimits() {
        let slots = CheckSlots(perUser: 3, total: 5)
        let granted = Granted()
        DispatchQueue.concurrentPerform(iterations: 200) { i in
            if slots.acquire(user: "u\(i % 4)") == nil { granted.add() }
        }
        XCTAssertEqual(granted.count, 5)
        XCTAssertEqual(slots.running, 5)
    }

    private final class Granted: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func add() { lock.lock(); value += 1; lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return value }
    }
}
