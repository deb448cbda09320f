import Logging
import XCTest
@testable import KGGateway

/// The login throttle's counting (pure logic; the integration tests drive it over HTTP).
final class LoginThrottleTests: XCTestCase {
    func throttle(perAddress: Int = 5, perUser: Int = 3, window: Double = 0.6, maxKeys: Int = 50_000) -> LoginThrottle {
        LoginThrottle(maxPerAddress: perAddress, maxPerUser: perUser, window: window, maxKeys: maxKeys, logger: Logger(label: "test"))
    }

    func testFailuresLeaveTheWindowAndRetryAfterSaysWhen() async throws {
        let t = throttle()
        for _ in 0..<3 { try await t.begin(address: "a", username: "u") }
        do {
            try await t.begin(address: "a", username: "u")
            XCTFail("the 4th attempt within the window passed")
        } catch let refusal as LoginThrottle.Refusal {
            XCTAssertEqual(refusal.key, "user name u")
            XCTAssertEqual(refusal.retryAfterSeconds, 1, "rounded up, at least 1 s")
        }
        try await Task.sleep(nanoseconds: 700_000_000)
        try await t.begin(address: "a", username: "u")  // the window has passed
    }

    func testSuccessClearsTheNameAndUncountsTheAttempt() async throws {
        let t = throttle(perAddress: 3, perUser: 2)
        try await t.begin(address: "a", username: "u")
        try await t.begin(address: "a", username: "u")
        await t.succeeded(address: "a", username: "u")
        // The name is clear; the address holds 1 failure (the success was uncounted): two more fit.
        try await t.begin(address: "a", username: "u")
        try await t.begin(address: "a", username: "v")
        do {
            try await t.begin(address: "a", username: "w")
            XCTFail("the address's limit of 3 passed")
        } catch let refusal as LoginThrottle.Refusal {
            XCTAssertEqual(refusal.key, "address a")
        }
    }

    func testZeroTurnsALimitOffAndNoAddressIsOnlyCountedByName() async throws {
        let t = throttle(perAddress: 0, perUser: 0)
        for _ in 0..<100 { try await t.begin(address: "a", username: "u") }
        let byName = throttle(perAddress: 1, perUser: 2)
        try await byName.begin(address: nil, username: "u")
        try await byName.begin(address: nil, username: "u")
        do {
            try await byName.begin(address: nil, username: "u")
            XCTFail("passed the name's limit")
        } catch is LoginThrottle.Refusal {}
    }

    /// Memory is bounded: a spray of distinct names never keeps more than maxKeys of them.
    func testDistinctNamesAreBounded() async throws {
        let t = throttle(perAddress: 0, perUser: 5, window: 60, maxKeys: 1000)
        for i in 0..<5000 { try await t.begin(address: nil, username: "name\(i)") }
        let remembered = await t.rememberedNames
        XCTAssertLessThanOrEqual(remembered, 1000)
    }

    /// A name with CR LF cannot forge a log line (the refusal names it with `?`).
    func testControlCharactersInANameAreNotLogged() async throws {
        let t = throttle(perUser: 1)
        let name = "admin\r\nlevel=critical forged"
        try await t.begin(address: nil, username: name)
        do {
            try await t.begin(address: nil, username: name)
            XCTFail("passed the name's limit")
        } catch let refusal as LoginThrottle.Refusal {
            XCTAssertEqual(refusal.key, "user name admin??level=critical forged")
        }
    }
}
