import Foundation

/// The workers this gateway has heard from lately, from their presence events
/// (`worker.presence` on the status exchange, every 5 s, and a last one when a worker stops):
/// which broker node each worker's job consumer and status publisher use. Workers serve no
/// HTTP; this is how `/metrics` shows them (`kg_worker_broker_connection`). A worker silent
/// for `staleAfter` seconds (its own events say how often it speaks; three missed) is dropped.
final class WorkerRoster: @unchecked Sendable {
    struct Worker: Equatable, Sendable {
        let id: String
        let jobConsumerNode: String?
        let statusPublisherNode: String?
        let activeJobs: Int
        let seen: Date
        let interval: Double
    }

    // `workers` is guarded by `lock`.
    private let lock = NSLock()
    private var workers: [String: Worker] = [:]

    /// Takes one presence event's JSON body; ignores what it cannot read.
    func record(_ body: [UInt8], at now: Date = Date()) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let id = object["worker_id"] as? String, !id.isEmpty
        else { return }
        lock.lock()
        defer { lock.unlock() }
        if object["stopping"] as? Bool == true {
            workers[id] = nil
            return
        }
        workers[id] = Worker(
            id: id, jobConsumerNode: object["job_consumer"] as? String,
            statusPublisherNode: object["status_publisher"] as? String,
            activeJobs: object["active_jobs"] as? Int ?? 0, seen: now,
            interval: max(1, object["interval_s"] as? Double ?? 5))
    }

    /// The workers heard from within three of their intervals, by id.
    func current(at now: Date = Date()) -> [Worker] {
        lock.lock()
        defer { lock.unlock() }
        workers = workers.filter { now.timeIntervalSince($0.value.seen) <= 3 * $0.value.interval }
        return workers.values.sorted { $0.id < $1.id }
    }
}
