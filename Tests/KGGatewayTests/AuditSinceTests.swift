import Foundation
import XCTest
@testable import KGGateway

final class AuditSinceTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func testAges() {
        XCTAssertEqual(AuditSince.parse("45s", now: now), now.addingTimeInterval(-45))
        XCTAssertEqual(AuditSince.parse("30m", now: now), now.addingTimeInterval(-1800))
        XCTAssertEqual(AuditSince.parse("24h", now: now), now.addingTimeInterval(-86400))
        XCTAssertEqual(AuditSince.parse("7d", now: now), now.addingTimeInterval(-7 * 86400))
        XCTAssertEqual(AuditSince.parse("1.5h", now: now), now.addingTimeInterval(-5400))
    }

    func testTimes() {
        XCTAssertEqual(AuditSince.parse("2026-11-28T10:00:00Z", now: now)?.timeIntervalSince1970, 1_795_860_000)
        XCTAssertEqual(AuditSince.parse("2026-11-28T11:00:00+01:00", now: now)?.timeIntervalSince1970, 1_795_860_000)
        XCTAssertEqual(AuditSince.parse("2026-11-28T10:00:00.500Z", now: now)?.timeIntervalSince1970, 1_795_860_000.5)
        XCTAssertEqual(AuditSince.parse("2026-11-28", now: now)?.timeIntervalSince1970, 1_795_824_000)
    }

    func testNonsenseIsRefused() {
        for text in ["", "yesterday", "-5m", "5w", "m", "2026-13-45", "12"] {
            XCTAssertNil(AuditSince.parse(text, now: now), text)
        }
    }
}
