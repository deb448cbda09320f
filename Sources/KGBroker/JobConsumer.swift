import Foundation

/// Consumes jobs with manual acks and prefetch 1, running each job on a separate handler thread
/// while the consumer thread keeps servicing the connection (heartbeats) — a job may run for an
/// hour.
///
/// The handler's `JobDisposition` is applied from the consumer thread when the handler returns.
/// When the connection drops, the consumer reconnects with backoff; a delivery whose handler was
/// still running can no longer be acked on the new connection, so its ack is dropped and
/// logged — the broker redelivers the message and the job row decides what the redelivery
/// does. The handler's work itself stands. The new connection starts consuming only once that
/// handler has returned: a second delivery would otherwise wait behind the running job.
///
/// ```swift
/// let consumer = JobConsumer(url: url, queue: topology.jobQueue, prepare: topology.declare,
///                            log: { print($0) }) { delivery in
///     return runJob(delivery.body) ? .ack : .requeue
/// }
/// consumer.start()
/// …
/// consumer.stopConsuming()        // no new jobs; the current one finishes
/// consumer.stop(drainTimeout: 60)
/// ```
public final class JobConsumer: @unchecked Sendable {
    // Thread-safety: the connection, consumer tag and generation live in `session` on the consumer
    // thread (the loop's) only. Everything in the "shared" block below is guarded by `condition`.
    public let url: AMQPURL
    /// The nodes this consumer may connect to, and the one it is connected to.
    public let nodes: BrokerNodes
    public let queue: String
    private let prefetch: UInt16
    private let prepare: (@Sendable (AMQPConnection) throws -> Void)?
    private let log: BrokerLog
    private let handler: @Sendable (Delivery) -> JobDisposition
    private let handlerThread: BrokerThread
    /// Connects, consumes and reconnects with backoff on thread `kg-job-consumer` (``BrokerLoop``).
    private let loop: BrokerLoop
    /// The current connection's number; consumer thread only.
    private var generation = 0

    // shared
    private let condition = NSCondition()
    private var consumingStopped = false
    private var completions: [Completion] = []
    private var activeJobs = 0
    private var connections = 0

    private struct Completion {
        let generation: Int
        let deliveryTag: UInt64
        let disposition: JobDisposition
    }

    /// - Parameters:
    ///   - queue: the queue to consume (declared by `prepare` or beforehand).
    ///   - prepare: run after every (re)connect before consuming, e.g. `topology.declare(on:)`.
    ///   - handler: runs on the handler thread, one job at a time.
    public convenience init(
        url: AMQPURL, queue: String, heartbeatSeconds: Int = 30, prefetch: UInt16 = 1, connectTimeout: Double = 2,
        backoff: Backoff = Backoff(), prepare: (@Sendable (AMQPConnection) throws -> Void)? = nil,
        log: @escaping BrokerLog = { _ in }, handler: @escaping @Sendable (Delivery) -> JobDisposition
    ) {
        self.init(
            nodes: BrokerNodes(url), queue: queue, heartbeatSeconds: heartbeatSeconds, prefetch: prefetch,
            connectTimeout: connectTimeout, backoff: backoff, prepare: prepare, log: log, handler: handler)
    }

    /// - Parameter nodes: the nodes of the cluster; after losing one, the consumer reconnects to
    ///   another and subscribes again.
    public init(
        nodes: BrokerNodes, queue: String, heartbeatSeconds: Int = 30, prefetch: UInt16 = 1, connectTimeout: Double = 2,
        backoff: Backoff = Backoff(), prepare: (@Sendable (AMQPConnection) throws -> Void)? = nil,
        log: @escaping BrokerLog = { _ in }, handler: @escaping @Sendable (Delivery) -> JobDisposition
    ) {
        self.url = nodes.urls[0]
        self.nodes = nodes
        self.queue = queue
        self.prefetch = prefetch
        self.prepare = prepare
        self.log = log
        self.handler = handler
        self.handlerThread = BrokerThread(name: "kg-job-handler")
        self.loop = BrokerLoop(
            threadName: "kg-job-consumer", label: "job consumer", nodes: nodes, heartbeatSeconds: heartbeatSeconds,
            connectTimeout: connectTimeout, backoff: backoff, log: log)
    }

    deinit {
        loop.stop(timeout: 0)
        handlerThread.stop(timeout: 0)
    }

    /// True while connected and set up (consuming, unless `stopConsuming` was called).
    public var isConnected: Bool { loop.isConnected }

    /// Jobs handed to the handler whose outcome has not been acked (or dropped) yet.
    public var activeJobCount: Int { withLock { activeJobs } }

    /// How many connections were opened so far (1 while the first one holds).
    public var connectionCount: Int { withLock { connections } }

    /// Starts the consumer thread. Calling it again does nothing.
    public func start() {
        // Outcomes of jobs from a lost connection cannot be acked any more: dropped (and logged).
        loop.start(
            lost: { [self] in try? applyCompletions(nil, generation: generation) },
            ended: { [self] in try? applyCompletions(nil, generation: generation) },
            session: { [self] connection, established in try session(connection, established) })
    }

    /// Cancels the consumer so no new job arrives; the running job finishes and is acked.
    public func stopConsuming() {
        withLock { consumingStopped = true }
    }

    /// Blocks until connected (or `timeout` passes); returns `isConnected`.
    @discardableResult
    public func waitUntilConnected(timeout: Double) -> Bool {
        loop.waitUntilConnected(timeout: timeout)
    }

    /// Stops consuming, waits up to `drainTimeout` seconds for the running job to finish and be
    /// acked, then closes the connection and joins the consumer thread. A job still running
    /// after that keeps running on its thread, but its message returns to the queue.
    public func stop(drainTimeout: Double = 10) {
        stopConsuming()
        let deadline = Date(timeIntervalSinceNow: drainTimeout)
        condition.lock()
        while activeJobs > 0 {
            if !condition.wait(until: deadline) { break }
        }
        let abandoned = activeJobs
        condition.unlock()
        if abandoned > 0 {
            log("job consumer: stopping with \(abandoned) job(s) still running; the broker will redeliver them")
        }
        if !loop.stop(timeout: 5) {
            log("job consumer: consumer thread did not stop within 5 s")
        }
        handlerThread.stop(timeout: 0)
    }

    // MARK: Consumer thread

    /// Sets up one connection (`prepare`, prefetch, consuming) and services it until `stop()` or an error.
    private func session(_ c: AMQPConnection, _ established: () -> Void) throws {
        generation += 1
        try prepare?(c)
        try c.qos(prefetchCount: prefetch)
        var consumerTag: String?
        // After a reconnect while a job still runs, consuming waits until it ends (see `serve`).
        if withLock({ !consumingStopped && activeJobs == 0 }) { consumerTag = try c.consume(queue: queue, noAck: false) }
        withLock { connections += 1 }
        established()
        log("job consumer connected to \(c.url), consuming '\(queue)'")
        try serve(c, generation: generation, consumerTag: &consumerTag)
    }

    /// Services one connection until `stop()` or an error.
    private func serve(_ connection: AMQPConnection, generation: Int, consumerTag: inout String?) throws {
        while !loop.isStopping {
            if let tag = consumerTag, withLock({ consumingStopped }) {
                try connection.cancel(consumerTag: tag)
                consumerTag = nil
                log("job consumer: stopped consuming '\(queue)'")
            }
            try applyCompletions(connection, generation: generation)
            if consumerTag == nil, withLock({ !consumingStopped && activeJobs == 0 }) {
                // A job of the lost connection has ended: only now take the next one, so that a
                // delivery never waits behind a running job while other workers are idle.
                consumerTag = try connection.consume(queue: queue, noAck: false)
                log("job consumer: the job of the lost connection has ended; consuming '\(queue)' again")
            }
            // Short timeout: completions are applied promptly and heartbeats keep flowing.
            guard let delivery = try connection.nextDelivery(timeout: 0.1) else { continue }
            if consumerTag == nil {
                // Arrived after basic.cancel: give it back.
                try connection.nack(deliveryTag: delivery.deliveryTag, requeue: true)
                continue
            }
            withLock { activeJobs += 1 }
            let accepted = handlerThread.submit { [self] in
                let disposition = handler(delivery)
                withLock {
                    completions.append(
                        Completion(generation: generation, deliveryTag: delivery.deliveryTag, disposition: disposition))
                }
            }
            if !accepted {
                withLock { activeJobs -= 1 }
                try connection.nack(deliveryTag: delivery.deliveryTag, requeue: true)
            }
        }
    }

    /// Acks, nacks or rejects finished jobs of this connection; logs and drops the rest. With a
    /// nil connection everything pending is dropped.
    private func applyCompletions(_ connection: AMQPConnection?, generation: Int) throws {
        let done: [Completion] = withLock {
            defer { completions.removeAll() }
            return completions
        }
        for (index, completion) in done.enumerated() {
            if let connection, completion.generation == generation {
                do {
                    switch completion.disposition {
                    case .ack: try connection.ack(deliveryTag: completion.deliveryTag)
                    case .requeue: try connection.nack(deliveryTag: completion.deliveryTag, requeue: true)
                    case .deadLetter: try connection.reject(deliveryTag: completion.deliveryTag, requeue: false)
                    }
                } catch {
                    // Keep the unapplied ones for the drop path of the caller's reconnect.
                    withLock { completions.insert(contentsOf: done[index...], at: 0) }
                    throw error
                }
            } else {
                log(
                    "job consumer: cannot \(completion.disposition) delivery \(completion.deliveryTag): its connection was lost; the broker will redeliver it"
                )
            }
            withLock {
                activeJobs -= 1
                condition.broadcast()
            }
        }
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }
}
