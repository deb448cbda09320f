import Foundation

/// Which backups of one group (one backup type and ontology) to keep, with
/// restic's `forget` semantics:
///
/// - The backups are taken newest first. `--keep-last N` keeps the N newest;
///   `--keep-hourly/daily/weekly/monthly/yearly N` keep the newest backup of
///   each of the N most recent hours/days/ISO weeks/months/years that have one
///   (calendar periods in UTC); `-1` means no limit.
/// - When a period count is not used up by the end, the oldest backup is kept
///   too ("oldest daily snapshot"): the longest history the counts allow.
/// - `--keep-within D` keeps every backup newer than the group's newest backup
///   (not in the future) minus D.
/// - A backup is kept when any rule keeps it; its reasons name every rule that did.
///
/// One rule of kg's own: a group is never left empty (its newest backup is
/// kept, "the only backup left of its group") unless `allowEmptyGroups`.
///
/// ```swift
/// let policy = RetentionPolicy(daily: 7, weekly: 4)
/// let decisions = policy.apply(to: backups.map(\.time))   // newest first
/// ```
public struct RetentionPolicy: Sendable, Equatable {
    public var last = 0
    public var hourly = 0
    public var daily = 0
    public var weekly = 0
    public var monthly = 0
    public var yearly = 0
    public var within: RetentionDuration?
    /// Let a policy remove every backup of a group (kg keeps the newest otherwise).
    public var allowEmptyGroups = false

    public init(
        last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, yearly: Int = 0,
        within: RetentionDuration? = nil, allowEmptyGroups: Bool = false
    ) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
        self.within = within
        self.allowEmptyGroups = allowEmptyGroups
    }

    /// No rule keeps anything: restic refuses such a policy, and so does `kg admin forget`.
    public var isEmpty: Bool {
        [last, hourly, daily, weekly, monthly, yearly].allSatisfy { $0 == 0 } && (within?.isZero ?? true)
    }

    /// The fate of one backup.
    public struct Decision: Sendable, Equatable {
        /// The backup's index in the list given to ``apply(to:now:)``.
        public let index: Int
        public let time: Date
        public let keep: Bool
        /// Why it is kept ("daily snapshot", "within 7d", …); empty when removed.
        public let reasons: [String]
    }

    /// `"keep 2 last, 7 daily and all within 30d of the newest"`, for the output.
    public var description: String {
        var parts: [String] = []
        for (count, name) in [
            (last, "latest"), (hourly, "hourly"), (daily, "daily"), (weekly, "weekly"),
            (monthly, "monthly"), (yearly, "yearly"),
        ] where count != 0 {
            parts.append(count < 0 ? "all \(name)" : "\(count) \(name)")
        }
        if let within, !within.isZero { parts.append("all within \(within) of the newest") }
        return parts.isEmpty ? "remove all" : "keep " + parts.joined(separator: ", ")
    }

    /// Decides for every time in `times` (one group); the result is ordered newest
    /// first (ties keep their given order), as restic orders snapshots.
    public func apply(to times: [Date], now: Date = Date()) -> [Decision] {
        guard !times.isEmpty else { return [] }
        let order = times.indices.sorted { times[$0] != times[$1] ? times[$0] > times[$1] : $0 < $1 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var iso = Calendar(identifier: .iso8601)
        iso.timeZone = calendar.timeZone

        struct Bucket {
            var count: Int
            let key: (Date, Int) -> Int
            var last = -1
            let reason: String
        }
        func field(_ component: Calendar.Component, _ date: Date) -> Int { calendar.component(component, from: date) }
        var buckets = [
            Bucket(count: last, key: { _, nr in nr }, reason: "last snapshot"),
            Bucket(
                count: hourly, key: { d, _ in field(.year, d) * 1_000_000 + field(.month, d) * 10_000 + field(.day, d) * 100 + field(.hour, d) },
                reason: "hourly snapshot"),
            Bucket(count: daily, key: { d, _ in field(.year, d) * 10_000 + field(.month, d) * 100 + field(.day, d) }, reason: "daily snapshot"),
            Bucket(
                count: weekly, key: { d, _ in iso.component(.yearForWeekOfYear, from: d) * 100 + iso.component(.weekOfYear, from: d) },
                reason: "weekly snapshot"),
            Bucket(count: monthly, key: { d, _ in field(.year, d) * 100 + field(.month, d) }, reason: "monthly snapshot"),
            Bucket(count: yearly, key: { d, _ in field(.year, d) }, reason: "yearly snapshot"),
        ]
        // The newest backup that is not in the future (restic's findLatestTimestamp).
        let latest = times.filter { $0 < now }.max() ?? .distantPast
        let withinStart = within.flatMap { $0.isZero ? nil : $0.before(latest, calendar: calendar) }

        var decisions: [Decision] = []
        for (nr, index) in order.enumerated() {
            let time = times[index]
            var reasons: [String] = []
            if let withinStart, let within, time > withinStart {
                reasons.append("within \(within)")
            }
            for i in buckets.indices where buckets[i].count != 0 {
                let value = buckets[i].key(time, nr)
                let isOldest = nr == order.count - 1
                guard value != buckets[i].last || isOldest else { continue }
                reasons.append(value == buckets[i].last ? "oldest \(buckets[i].reason)" : buckets[i].reason)
                buckets[i].last = value
                if buckets[i].count > 0 { buckets[i].count -= 1 }
            }
            decisions.append(Decision(index: index, time: time, keep: !reasons.isEmpty, reasons: reasons))
        }
        if !allowEmptyGroups, !decisions.contains(where: \.keep), let newest = decisions.first {
            decisions[0] = Decision(
                index: newest.index, time: newest.time, keep: true,
                reasons: ["the only backup left of its group (never removed without --allow-empty-groups)"])
        }
        return decisions
    }
}
