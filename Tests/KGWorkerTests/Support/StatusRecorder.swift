import Foundation

@testable import KGWorker

/// A ``StatusSink`` that keeps the events a ``JobContext`` publishes.
final class StatusRecorder: StatusSink, @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [(event: String, body: [String: Any])] = []

    func publish(jobID: String, event: String, body: [UInt8]) {
        let json = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
        lock.lock()
        kept.append((event, json))
        lock.unlock()
    }

    var events: [(event: String, body: [String: Any])] {
        lock.lock()
        defer { lock.unlock() }
        return kept
    }

    /// The `progress` objects of the progress events, in order.
    var progress: [[String: Any]] { events.compactMap { $0.body["progress"] as? [String: Any] } }
}
