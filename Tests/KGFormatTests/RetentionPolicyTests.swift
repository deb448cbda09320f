import Foundation
import XCTest
@testable import KGFormat

/// `kg admin forget`'s policy against restic's own examples (the snapshot list
/// of restic's `TestApplyPolicy` and its expected results).
final class RetentionPolicyTests: XCTestCase {
    /// restic's `testExpireSnapshots`, in its order (ties keep it).
    static let resticTimes: [String] = [
        "2014-09-01 10:20:30", "2014-09-02 10:20:30", "2014-09-05 10:20:30", "2014-09-06 10:20:30", "2014-09-08 10:20:30",
        "2014-09-09 10:20:30", "2014-09-10 10:20:30", "2014-09-11 10:20:30", "2014-09-20 10:20:30", "2014-09-22 10:20:30",
        "2014-08-08 10:20:30", "2014-08-10 10:20:30", "2014-08-12 10:20:30", "2014-08-13 10:20:30", "2014-08-13 10:20:30.1",
        "2014-08-15 10:20:30", "2014-08-18 10:20:30", "2014-08-20 10:20:30", "2014-08-21 10:20:30", "2014-08-22 10:20:30",
        "2014-10-01 10:20:30", "2014-10-02 10:20:30", "2014-10-05 10:20:30", "2014-10-06 10:20:30", "2014-10-08 10:20:30",
        "2014-10-09 10:20:30", "2014-10-10 10:20:30", "2014-10-11 10:20:30", "2014-10-20 10:20:30", "2014-10-22 10:20:30",
        "2014-11-08 10:20:30", "2014-11-10 10:20:30", "2014-11-12 10:20:30", "2014-11-13 10:20:30", "2014-11-13 10:20:30.1",
        "2014-11-15 10:20:30", "2014-11-18 10:20:30", "2014-11-20 10:20:30", "2014-11-21 10:20:30", "2014-11-22 10:20:30",
        "2015-09-01 10:20:30", "2015-09-02 10:20:30", "2015-09-05 10:20:30", "2015-09-06 10:20:30", "2015-09-08 10:20:30",
        "2015-09-09 10:20:30", "2015-09-10 10:20:30", "2015-09-11 10:20:30", "2015-09-20 10:20:30", "2015-09-22 10:20:30",
        "2015-08-08 10:20:30", "2015-08-10 10:20:30", "2015-08-12 10:20:30", "2015-08-13 10:20:30", "2015-08-13 10:20:30.1",
        "2015-08-15 10:20:30", "2015-08-18 10:20:30", "2015-08-20 10:20:30", "2015-08-21 10:20:30", "2015-08-22 10:20:30",
        "2015-10-01 10:20:30", "2015-10-02 10:20:30", "2015-10-05 10:20:30", "2015-10-06 10:20:30", "2015-10-08 10:20:30",
        "2015-10-09 10:20:30", "2015-10-10 10:20:30", "2015-10-11 10:20:30", "2015-10-20 10:20:30", "2015-10-22 10:20:30",
        "2015-10-22 10:20:30", "2015-10-22 10:20:30", "2015-10-22 10:20:30", "2015-10-22 10:20:30",
        "2015-11-08 10:20:30", "2015-11-10 10:20:30", "2015-11-12 10:20:30", "2015-11-13 10:20:30", "2015-11-13 10:20:30.1",
        "2015-11-15 10:20:30", "2015-11-18 10:20:30", "2015-11-20 10:20:30", "2015-11-21 10:20:30", "2015-11-22 10:20:30",
        "2016-01-01 01:02:03", "2016-01-01 01:03:03", "2016-01-01 07:08:03", "2016-01-03 07:02:03", "2016-01-04 10:23:03",
        "2016-01-04 11:23:03", "2016-01-04 12:23:03", "2016-01-04 12:24:03", "2016-01-04 12:28:03", "2016-01-04 12:30:03",
        "2016-01-04 16:23:03", "2016-01-05 09:02:03", "2016-01-06 08:02:03", "2016-01-07 10:02:03", "2016-01-08 20:02:03",
        "2016-01-09 21:02:03", "2016-01-12 21:02:03", "2016-01-12 21:08:03", "2016-01-18 12:02:03",
    ]

    static func date(_ text: String) -> Date {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = text.contains(".") ? "yyyy-MM-dd HH:mm:ss.S" : "yyyy-MM-dd HH:mm:ss"
        return formatter.date(from: text)!
    }

    static let times = resticTimes.map(date)
    static let now = date("2020-01-01 00:00:00")

    /// The kept times (as restic prints them) and their reasons, newest first.
    private func kept(_ policy: RetentionPolicy) -> [(String, [String])] {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let decisions = policy.apply(to: Self.times, now: Self.now)
        XCTAssertEqual(decisions.count, Self.times.count, "every backup gets a decision")
        return decisions.filter(\.keep).map { (formatter.string(from: $0.time), $0.reasons) }
    }

    private func assertKept(_ policy: RetentionPolicy, _ expected: [(String, [String])], file: StaticString = #filePath, line: UInt = #line) {
        let got = kept(policy)
        XCTAssertEqual(got.map(\.0), expected.map(\.0), "kept", file: file, line: line)
        XCTAssertEqual(got.map(\.1), expected.map(\.1), "reasons", file: file, line: line)
    }

    /// restic's policy_keep_snapshots_15: {Daily: 2, Weekly: 2, Monthly: 6}.
    func testDailyWeeklyMonthlyAsRestic() {
        assertKept(
            RetentionPolicy(daily: 2, weekly: 2, monthly: 6),
            [
                ("2016-01-18 12:02:03", ["daily snapshot", "weekly snapshot", "monthly snapshot"]),
                ("2016-01-12 21:08:03", ["daily snapshot", "weekly snapshot"]),
                ("2015-11-22 10:20:30", ["monthly snapshot"]),
                ("2015-10-22 10:20:30", ["monthly snapshot"]),
                ("2015-09-22 10:20:30", ["monthly snapshot"]),
                ("2015-08-22 10:20:30", ["monthly snapshot"]),
                ("2014-11-22 10:20:30", ["monthly snapshot"]),
            ])
    }

    /// restic's policy_keep_snapshots_16: {Yearly: 10}: counts left over keep the oldest too.
    func testCountsLeftOverKeepTheOldestAsRestic() {
        assertKept(
            RetentionPolicy(yearly: 10),
            [
                ("2016-01-18 12:02:03", ["yearly snapshot"]),
                ("2015-11-22 10:20:30", ["yearly snapshot"]),
                ("2014-11-22 10:20:30", ["yearly snapshot"]),
                ("2014-08-08 10:20:30", ["oldest yearly snapshot"]),
            ])
    }

    /// {Last: 3} and {Daily: 3}: the newest three, and the newest of each of the three newest days.
    func testLastAndDaily() {
        assertKept(
            RetentionPolicy(last: 3),
            [
                ("2016-01-18 12:02:03", ["last snapshot"]),
                ("2016-01-12 21:08:03", ["last snapshot"]),
                ("2016-01-12 21:02:03", ["last snapshot"]),
            ])
        assertKept(
            RetentionPolicy(daily: 3),
            [
                ("2016-01-18 12:02:03", ["daily snapshot"]),
                ("2016-01-12 21:08:03", ["daily snapshot"]),
                ("2016-01-09 21:02:03", ["daily snapshot"]),
            ])
        // Hourly: 2016-01-04 has several within an hour; the newest of each hour.
        let hourly = kept(RetentionPolicy(hourly: 7)).map(\.0)
        XCTAssertEqual(
            hourly,
            [
                "2016-01-18 12:02:03", "2016-01-12 21:08:03", "2016-01-09 21:02:03", "2016-01-08 20:02:03",
                "2016-01-07 10:02:03", "2016-01-06 08:02:03", "2016-01-05 09:02:03",
            ])
        XCTAssertTrue(kept(RetentionPolicy(hourly: 10)).map(\.0).contains("2016-01-04 12:30:03"))
        XCTAssertFalse(kept(RetentionPolicy(hourly: 10)).map(\.0).contains("2016-01-04 12:28:03"), "one per hour")
    }

    /// restic's {Within: 7d} and {Within: 2m2h}: relative to the newest backup, not to now.
    func testWithinIsRelativeToTheNewest() {
        assertKept(
            RetentionPolicy(within: RetentionDuration(parsing: "7d")),
            [
                ("2016-01-18 12:02:03", ["within 7d"]),
                ("2016-01-12 21:08:03", ["within 7d"]),
                ("2016-01-12 21:02:03", ["within 7d"]),
            ])
        // 2 months 2 hours before 2016-01-18 12:02:03 is 2015-11-18 10:02:03: 2015-11-18 10:20:30 is just inside.
        let longer = kept(RetentionPolicy(within: RetentionDuration(parsing: "2m2h"))).map(\.0)
        XCTAssertEqual(longer.last, "2015-11-18 10:20:30")
        XCTAssertEqual(longer.count, 19 + 4)
    }

    /// -1 is "all": {Last: -1} keeps every backup.
    func testUnlimited() {
        XCTAssertEqual(kept(RetentionPolicy(last: -1)).count, Self.times.count)
    }

    /// A backup in the future does not move `within`'s reference.
    func testFutureBackupsDoNotMoveWithin() {
        let times = [Self.date("2016-01-18 12:00:00"), Self.date("2016-01-17 12:00:00"), Self.date("2030-01-01 00:00:00")]
        let decisions = RetentionPolicy(within: RetentionDuration(hours: 30)).apply(to: times, now: Self.now)
        XCTAssertEqual(decisions.map(\.index), [2, 0, 1], "newest first")
        XCTAssertEqual(decisions.map(\.keep), [true, true, true])
    }

    /// kg's own rule: a group is never emptied unless asked.
    func testAGroupIsNeverEmptiedUnlessAsked() {
        let times = [Self.date("2016-01-18 12:00:00"), Self.date("2016-01-17 12:00:00")]
        let guarded = RetentionPolicy().apply(to: times, now: Self.now)
        XCTAssertEqual(guarded.map(\.keep), [true, false])
        XCTAssertTrue(guarded[0].reasons[0].contains("only backup left"), "\(guarded[0].reasons)")
        XCTAssertEqual(RetentionPolicy(allowEmptyGroups: true).apply(to: times, now: Self.now).map(\.keep), [false, false])
        XCTAssertTrue(RetentionPolicy().isEmpty)
        XCTAssertFalse(RetentionPolicy(within: RetentionDuration(days: 1)).isEmpty)
    }

    func testDurationsAreSpelledAsRestics() {
        XCTAssertEqual(RetentionDuration(parsing: "1y5m7d2h"), RetentionDuration(years: 1, months: 5, days: 7, hours: 2))
        XCTAssertEqual(RetentionDuration(parsing: "30d")?.description, "30d")
        for bad in ["", "30", "d", "1x", "1d1d", "-1d", "1.5d"] {
            XCTAssertNil(RetentionDuration(parsing: bad), bad)
        }
    }
}
