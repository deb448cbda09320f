import Foundation

/// Fans status events from the broker's topic exchange out to the requests that
/// follow a job (SSE streams, backup downloads). Fed synchronously from the
/// subscriber's thread, so events of one job keep their order.
final class StatusHub: @unchecked Sendable {
    // `subscribers` and `last` are guarded by `lock`.
    private let lock = NSLock()
    private var subscribers: [String: [UUID: AsyncStream<StatusEvent>.Continuation]] = [:]
    /// Workers' presence events (`worker.presence`) end here.
    let workers = WorkerRoster()

    /// Delivers one message whose routing key is `job.<id>.<event>` (or a worker's presence).
    func deliver(routingKey: String, body: [UInt8]) {
        if routingKey == "worker.presence" { return workers.record(body) }
        let parts = routingKey.split(separator: ".")
        guard parts.count >= 3, parts[0] == "job" else { return }
        let event = StatusEvent(jobID: String(parts[1]), event: String(parts[2]), body: String(decoding: body, as: UTF8.self))
        lock.lock()
        let targets = subscribers[event.jobID].map { Array($0.values) } ?? []
        lock.unlock()
        for continuation in targets { continuation.yield(event) }
    }

    /// A stream of the job's events from now on; ends when the caller stops iterating.
    func subscribe(jobID: String) -> AsyncStream<StatusEvent> {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: StatusEvent.self, bufferingPolicy: .bufferingNewest(256))
        lock.lock()
        subscribers[jobID, default: [:]][id] = continuation
        lock.unlock()
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.lock.lock()
            self.subscribers[jobID]?[id] = nil
            if self.subscribers[jobID]?.isEmpty == true { self.subscribers[jobID] = nil }
            self.lock.unlock()
        }
        return stream
    }
}

/// One status event: `progress`, `completed`, `failed`, `cancelled`, … with a JSON body.
struct StatusEvent: Sendable {
    let jobID: String
    let event: String
    let body: String

    var isTerminal: Bool { event == "completed" || event == "failed" || event == "cancelled" }
}
