import Foundation

/// Routing keys with their arrival times (filled on the subscriber's thread).
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [(at: Date, key: String)] = []

    func add(_ key: String) {
        lock.lock()
        events.append((Date(), key))
        lock.unlock()
    }

    func count(after date: Date) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return events.filter { $0.at > date }.count
    }

    func first(after date: Date, suffix: String) -> Date? {
        lock.lock()
        defer { lock.unlock() }
        return events.first { $0.at > date && $0.key.hasSuffix(suffix) }?.at
    }
}
