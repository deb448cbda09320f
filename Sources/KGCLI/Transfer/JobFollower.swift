import Foundation
import KGClient
import KGFormat

/// Follows a job on a background thread: Server-Sent Events from
/// `GET /jobs/{id}/events`, falling back to polling `GET /jobs/{id}` every 2 s
/// when the event stream is not available. The latest state is read with ``latest``.
final class JobFollower: @unchecked Sendable {
    // `job`, `finished`, `stopped` are guarded by `lock`; `client` is only cancelled from other threads.
    private let lock = NSCondition()
    private var job: Job?
    private var finished = false
    private var stopped = false
    private let client: HTTPClient
    private let jobID: String
    private let pollInterval: Double

    init(client: HTTPClient, jobID: String, pollInterval: Double = 2) {
        self.client = client
        self.jobID = jobID
        self.pollInterval = pollInterval
    }

    func start() {
        let thread = Thread { [self] in follow() }
        thread.name = "kg-job-follower"
        thread.start()
    }

    var latest: Job? {
        lock.lock()
        defer { lock.unlock() }
        return job
    }

    /// Waits until the job reaches a terminal state (or `timeout`); returns the last state seen.
    func waitForEnd(timeout: Double = .infinity) -> Job? {
        let deadline = Date().addingTimeInterval(min(timeout, 1e9))
        lock.lock()
        defer { lock.unlock() }
        while !finished && !stopped {
            if !lock.wait(until: deadline) { break }
        }
        return job
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.broadcast()
        lock.unlock()
        client.cancel()
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private func update(_ new: Job) {
        lock.lock()
        // Never let the shown percent go back (events and polls may interleave).
        var merged = new
        if let old = job?.progress, var progress = merged.progress, progress.percent < old.percent, !new.status.isTerminal {
            progress.percent = old.percent
            merged.progress = progress
        }
        job = merged
        if new.status.isTerminal { finished = true }
        lock.broadcast()
        lock.unlock()
    }

    private func follow() {
        let decoder = JSONDecoder()
        do {
            try client.streamEvents(path: "/jobs/\(jobID)/events") { event in
                if let job = try? decoder.decode(Job.self, from: Data(event.data.utf8)) {
                    update(job)
                    return !job.status.isTerminal && !isStopped
                }
                return !isStopped
            }
        } catch {
            // Fall through to polling.
        }
        while !isStopped {
            lock.lock()
            let done = finished
            lock.unlock()
            if done { return }
            if let response = try? client.request(method: "GET", path: "/jobs/\(jobID)"), response.isSuccess,
                let job = try? response.decodeJSON(Job.self)
            {
                update(job)
                if job.status.isTerminal { return }
            }
            lock.lock()
            _ = lock.wait(until: Date().addingTimeInterval(pollInterval))
            lock.unlock()
        }
    }
}
