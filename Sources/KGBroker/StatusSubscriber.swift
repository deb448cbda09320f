import Foundation

/// Receives status events from the topic exchange on its own thread and hands each to
/// `onEvent(routingKey, body)`.
///
/// Declares a server-named, exclusive, auto-delete queue bound with the given patterns (default
/// `job.#`) and consumes it without acks. When the connection drops it reconnects with capped
/// exponential backoff and declares and binds a new queue; events published while it was
/// disconnected are lost (clients fall back to the job row).
///
/// ```swift
/// let subscriber = StatusSubscriber(url: url, exchange: topology.statusExchange) { key, body in
///     relay(key, body)              // called on the subscriber thread
/// }
/// subscriber.start()
/// defer { subscriber.stop() }
/// ```
public final class StatusSubscriber: @unchecked Sendable {
    // Thread-safety: `state` fields are guarded by `condition`; the connection is a local of
    // the subscriber thread and never leaves it.
    public let url: AMQPURL
    /// The nodes this subscriber may connect to, and the one it is connected to.
    public let nodes: BrokerNodes
    public let exchange: String
    public let bindingKeys: [String]
    private let heartbeatSeconds: Int
    private let connectTimeout: Double
    private let initialBackoff: Backoff
    private let log: BrokerLog
    private let onEvent: @Sendable (String, [UInt8]) -> Void
    private let condition = NSCondition()
    private var started = false
    private var stopping = false
    private var connected = false
    private var exited: DispatchSemaphore?

    /// - Parameters:
    ///   - bindingKeys: topic patterns, e.g. `["job.#"]` or `["job.\(id).*"]`.
    ///   - connectTimeout: bound for one connect attempt; keep it short so `stop()` stays quick.
    public convenience init(
        url: AMQPURL, exchange: String, bindingKeys: [String] = ["job.#"], heartbeatSeconds: Int = 10,
        connectTimeout: Double = 1, backoff: Backoff = Backoff(), log: @escaping BrokerLog = { _ in },
        onEvent: @escaping @Sendable (String, [UInt8]) -> Void
    ) {
        self.init(nodes: BrokerNodes(url), exchange: exchange, bindingKeys: bindingKeys, heartbeatSeconds: heartbeatSeconds,
                  connectTimeout: connectTimeout, backoff: backoff, log: log, onEvent: onEvent)
    }

    /// - Parameter nodes: the nodes of the cluster; after losing one, the subscriber declares and
    ///   binds a new queue on another.
    public init(
        nodes: BrokerNodes, exchange: String, bindingKeys: [String] = ["job.#"], heartbeatSeconds: Int = 10,
        connectTimeout: Double = 1, backoff: Backoff = Backoff(), log: @escaping BrokerLog = { _ in },
        onEvent: @escaping @Sendable (String, [UInt8]) -> Void
    ) {
        self.url = nodes.urls[0]
        self.nodes = nodes
        self.exchange = exchange
        self.bindingKeys = bindingKeys
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeout = connectTimeout
        self.initialBackoff = backoff
        self.log = log
        self.onEvent = onEvent
    }

    deinit { stop() }

    /// True while the queue is declared, bound and consumed.
    public var isConnected: Bool {
        condition.lock()
        defer { condition.unlock() }
        return connected
    }

    /// Starts the subscriber thread. Calling it again does nothing.
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        let exited = DispatchSemaphore(value: 0)
        self.exited = exited
        let thread = Thread { [self] in
            Thread.current.name = "kg-status-sub"  // set from inside: see BrokerThread.main
            run()
            exited.signal()
        }
        thread.start()
    }

    /// Blocks until subscribed (or `timeout` passes); returns `isConnected`. Useful before
    /// publishing something whose status must not be missed.
    @discardableResult
    public func waitUntilConnected(timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !connected && !stopping {
            if !condition.wait(until: deadline) { break }
        }
        return connected
    }

    /// Stops and joins the thread (within about a second: the consume loop wakes every 0.2 s).
    public func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        let exited = self.exited
        self.exited = nil
        condition.unlock()
        if let exited, exited.wait(timeout: .now() + 5) == .timedOut {
            log("status subscriber: thread did not stop within 5 s")
        }
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    private func setConnected(_ value: Bool) {
        condition.lock()
        connected = value
        condition.broadcast()
        condition.unlock()
    }

    /// Sleeps `seconds` unless `stop()` is called first.
    private func pause(_ seconds: Double) {
        let until = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        while !stopping, condition.wait(until: until) {}
        condition.unlock()
    }

    private func run() {
        var backoff = initialBackoff
        var reportedFailure = false
        while !isStopping {
            var connection: AMQPConnection?
            do {
                let c = try nodes.connect {
                    try AMQPConnection(url: $0, heartbeatSeconds: heartbeatSeconds, connectTimeout: connectTimeout)
                }
                connection = c
                try c.declareExchange(name: exchange, type: "topic", durable: true)
                let queue = try c.declareQueue(name: "", durable: false, exclusive: true, autoDelete: true)
                for key in bindingKeys { try c.bindQueue(queue, exchange: exchange, routingKey: key) }
                _ = try c.consume(queue: queue, noAck: true)
                backoff.reset()
                reportedFailure = false
                setConnected(true)
                log("status subscriber bound \(bindingKeys) on '\(exchange)' at \(c.url)")
                while !isStopping {
                    if let delivery = try c.nextDelivery(timeout: 0.2) {
                        onEvent(delivery.routingKey, delivery.body)
                    }
                }
                c.close()
                nodes.disconnected()
            } catch {
                connection?.close()
                nodes.disconnected()
                setConnected(false)
                if !reportedFailure { log("status subscriber: \(error); reconnecting") }
                reportedFailure = true
                pause(backoff.next())
            }
        }
        setConnected(false)
    }
}
