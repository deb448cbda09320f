import Foundation

/// Tells a backup download the moment its job ended: the worker's terminal status event
/// (`completed`, `failed`, `cancelled`) through the ``StatusHub``, so that the stream looks at
/// the job row at once instead of at its next poll (``BackupStreamer`` polls every 0.25 s at
/// the end of what is written: on average 0.13 s added to every backup whose client kept up).
/// Only a hint: the job row stays the truth, and the poll goes on for an event that is lost.
///
/// ```swift
/// let watch = JobEndWatch(hub: hub, jobID: id)   // subscribed from here on
/// defer { watch.stop() }
/// if watch.takeEnded() { /* read the job row now */ }
/// ```
final class JobEndWatch: @unchecked Sendable {
    // `ended` is guarded by `lock`.
    private let lock = NSLock()
    private var ended = false
    private var task: Task<Void, Never>?

    init(hub: StatusHub, jobID: String) {
        let events = hub.subscribe(jobID: jobID)
        task = Task { [weak self] in
            for await event in events where event.isTerminal {
                self?.markEnded()
                return
            }
        }
    }

    /// True once after the job's terminal event arrived.
    func takeEnded() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let value = ended
        ended = false
        return value
    }

    /// Unsubscribes (the hub forgets this follower).
    func stop() {
        task?.cancel()
    }

    private func markEnded() {
        lock.lock()
        ended = true
        lock.unlock()
    }
}
