import Foundation
import KGBroker

/// A worker's "I am here, on this broker node" event, every few seconds on the status
/// exchange (routing key `worker.presence`), and a last one when it stops. Workers serve no
/// HTTP, so this is how a gateway's `/metrics` can say which node each worker's connections
/// use (`kg_worker_broker_connection`). Advisory like every status event: dropped while the
/// broker is unreachable; a gateway forgets a worker it has not heard from for
/// ``staleAfter`` seconds.
///
/// ```json
/// {"worker_id":"w1","job_consumer":"127.0.0.1:5672","status_publisher":"127.0.0.1:5672","active_jobs":0,"interval_s":5,"stopping":false}
/// ```
final class WorkerPresence: @unchecked Sendable {
    static let routingKey = "worker.presence"
    static let interval = 5.0
    /// Three missed events: the worker is gone (or cut off from the gateways' broker).
    static let staleAfter = 3 * interval

    // Thread-safety: `timer` is created in `start` and cancelled in `stop`, both called from
    // the worker's start/stop path; the timer's handler only reads thread-safe objects.
    private let workerID: String
    private let consumer: JobConsumer
    private let events: StatusPublisher
    private var timer: DispatchSourceTimer?

    init(workerID: String, consumer: JobConsumer, events: StatusPublisher) {
        self.workerID = workerID
        self.consumer = consumer
        self.events = events
    }

    func start() {
        let timer = DispatchSource.makeTimerSource(queue: .global(qos: .utility))
        timer.schedule(deadline: .now() + 0.5, repeating: Self.interval)
        timer.setEventHandler { [self] in publish(stopping: false) }
        timer.resume()
        self.timer = timer
    }

    /// Stops the events and says so, so that gateways drop this worker at once.
    func stop() {
        timer?.cancel()
        timer = nil
        publish(stopping: true)
    }

    private func publish(stopping: Bool) {
        let body = """
            {"worker_id":\(Self.quote(workerID)),"job_consumer":\(Self.quote(consumer.nodes.current)),\
            "status_publisher":\(Self.quote(events.nodes.current)),"active_jobs":\(consumer.activeJobCount),\
            "interval_s":\(Int(Self.interval)),"stopping":\(stopping)}
            """
        events.publish(routingKey: Self.routingKey, body: Array(body.utf8))
    }

    private static func quote(_ value: String?) -> String {
        guard let value else { return "null" }
        let data = (try? JSONSerialization.data(withJSONObject: [value], options: [.withoutEscapingSlashes])) ?? Data("[\"\"]".utf8)
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }
}
