import Foundation
import Logging

/// Failed logins counted per client address and per user name over a sliding
/// window (`login_max_failures_per_address`, `login_max_failures_per_user`,
/// `login_failure_window_s`). Once either count reaches its limit, `/auth/token`
/// answers 429 with `Retry-After` (when the oldest counted failure leaves the
/// window) without checking the password, so a brute force learns nothing more and
/// costs no bcrypt. Names that do not exist are counted like those that do: a 429
/// does not tell which names exist. A success clears the name's count.
///
/// Per gateway process: with N replicas an attacker gets N times the limit (put a
/// proxy's rate limit in front for a global one). Memory is bounded: at most
/// ``maxKeys`` addresses and names are remembered; past that, the oldest are forgotten.
actor LoginThrottle {
    struct Refusal: Error {
        /// "address 203.0.113.7" or "user name admin".
        let key: String
        let limit: Int
        let retryAfterSeconds: Int
    }

    let maxPerAddress: Int
    let maxPerUser: Int
    let window: Double
    let maxKeys: Int
    private let logger: Logger
    private var addresses: [String: Failures] = [:]
    private var users: [String: Failures] = [:]
    private struct Failures {
        var times: [Date] = []
        /// One log line per key and window: when it was written, and refusals since.
        var loggedAt: Date?
        var refusedSinceLog = 0
    }

    init(maxPerAddress: Int, maxPerUser: Int, window: Double, maxKeys: Int = 50_000, logger: Logger) {
        self.maxPerAddress = maxPerAddress
        self.maxPerUser = maxPerUser
        self.window = window
        self.maxKeys = maxKeys
        self.logger = logger
    }

    /// Throws ``Refusal`` when the address (before the body is read) has too many recent failures.
    func check(address: String?) throws {
        guard let address, maxPerAddress > 0 else { return }
        try refuseIfFull(&addresses, key: address, limit: maxPerAddress, label: "address \(address)")
    }

    /// Throws ``Refusal`` when the address or the name has too many recent failures.
    func check(address: String?, username: String) throws {
        try check(address: address)
        guard maxPerUser > 0 else { return }
        try refuseIfFull(&users, key: username, limit: maxPerUser, label: "user name \(Self.printable(username))")
    }

    /// Checks, then counts this attempt as a failure until ``succeeded(address:username:)``
    /// says otherwise: parallel attempts cannot all pass the check before any of them is counted.
    func begin(address: String?, username: String) throws {
        try check(address: address, username: username)
        let now = Date()
        if let address, maxPerAddress > 0 { Self.add(now, to: &addresses, key: address, limit: maxPerAddress, window: window, maxKeys: maxKeys) }
        if maxPerUser > 0 { Self.add(now, to: &users, key: username, limit: maxPerUser, window: window, maxKeys: maxKeys) }
    }

    /// The attempt begun was right: the name's count is cleared, the address's attempt uncounted.
    func succeeded(address: String?, username: String) {
        users[username] = nil
        if let address, var entry = addresses[address], !entry.times.isEmpty {
            entry.times.removeLast()
            addresses[address] = entry.times.isEmpty ? nil : entry
        }
    }

    /// The name with control characters (a forged log line's CR LF) shown as `?`.
    static func printable(_ name: String) -> String {
        String(String.UnicodeScalarView(name.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
    }

    /// User names with failures remembered (tests: memory stays bounded).
    var rememberedNames: Int { users.count }

    private func refuseIfFull(_ table: inout [String: Failures], key: String, limit: Int, label: String) throws {
        guard var entry = table[key] else { return }
        let now = Date()
        entry.times.removeAll { now.timeIntervalSince($0) >= window }
        guard entry.times.count >= limit, let oldest = entry.times.first else {
            table[key] = entry.times.isEmpty ? nil : entry
            return
        }
        let retry = max(1, Int((oldest.addingTimeInterval(window).timeIntervalSince(now)).rounded(.up)))
        entry.refusedSinceLog += 1
        if entry.loggedAt.map({ now.timeIntervalSince($0) >= window }) ?? true {
            entry.loggedAt = now
            logger.warning(
                "login throttled: too many failed logins; answering 429",
                metadata: [
                    "for": "\(label)", "failures": "\(entry.times.count)", "window_s": "\(window)",
                    "retry_after_s": "\(retry)", "refused_since_last_log": "\(entry.refusedSinceLog)",
                ])
            entry.refusedSinceLog = 0
        }
        table[key] = entry
        throw Refusal(key: label, limit: limit, retryAfterSeconds: retry)
    }

    private static func add(_ now: Date, to table: inout [String: Failures], key: String, limit: Int, window: Double, maxKeys: Int) {
        var entry = table[key] ?? Failures()
        entry.times.removeAll { now.timeIntervalSince($0) >= window }
        entry.times.append(now)
        // Only the newest `limit` failures matter.
        if entry.times.count > limit { entry.times.removeFirst(entry.times.count - limit) }
        table[key] = entry
        if table.count > maxKeys { prune(&table, now: now, window: window, keep: maxKeys) }
    }

    /// Drops expired entries; if still too many, the ones whose last failure is oldest.
    private static func prune(_ table: inout [String: Failures], now: Date, window: Double, keep: Int) {
        table = table.filter { entry in entry.value.times.last.map { now.timeIntervalSince($0) < window } ?? false }
        guard table.count > keep * 9 / 10 else { return }
        let sorted = table.sorted { ($0.value.times.last ?? .distantPast) > ($1.value.times.last ?? .distantPast) }
        table = Dictionary(uniqueKeysWithValues: sorted.prefix(keep * 9 / 10).map { ($0.key, $0.value) })
    }
}
