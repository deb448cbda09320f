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
    // Thread-safety: the connection is the loop's, on its thread, and never leaves it.
    public let url: AMQPURL
    /// The nodes this subscriber may connect to, and the one it is connected to.
    public let nodes: BrokerNodes
    public let exchange: String
    public let bindingKeys: [String]
    private let log: BrokerLog
    private let onEvent: @Sendable (String, [UInt8]) -> Void
    /// Connects, declares, binds and consumes on thread `kg-status-sub`; reconnects with backoff.
    private let loop: BrokerLoop

    /// - Parameters:
    ///   - bindingKeys: topic patterns, e.g. `["job.#"]` or `["job.\(id).*"]`.
    ///   - connectTimeout: bound for one connect attempt; keep it short so `stop()` stays quick.
    public convenience init(
        url: AMQPURL, exchange: String, bindingKeys: [String] = ["job.#"], heartbeatSeconds: Int = 10,
        connectTimeout: Double = 1, backoff: Backoff = Backoff(), log: @escaping BrokerLog = { _ in },
        onEvent: @escaping @Sendable (String, [UInt8]) -> Void
    ) {
        self.init(
            nodes: BrokerNodes(url), exchange: exchange, bindingKeys: bindingKeys, heartbeatSeconds: heartbeatSeconds,
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
        self.log = log
        self.onEvent = onEvent
        self.loop = BrokerLoop(
            threadName: "kg-status-sub", label: "status subscriber", nodes: nodes, heartbeatSeconds: heartbeatSeconds,
            connectTimeout: connectTimeout, backoff: backoff, log: log)
    }

    deinit { stop() }

    /// True while the queue is declared, bound and consumed.
    public var isConnected: Bool { loop.isConnected }

    /// Starts the subscriber thread. Calling it again does nothing.
    public func start() {
        loop.start { [self] connection, established in try serve(connection, established) }
    }

    /// Blocks until subscribed (or `timeout` passes); returns `isConnected`. Useful before
    /// publishing something whose status must not be missed.
    @discardableResult
    public func waitUntilConnected(timeout: Double) -> Bool {
        loop.waitUntilConnected(timeout: timeout)
    }

    /// Stops and joins the thread (within about a second: the consume loop wakes every 0.2 s).
    public func stop() {
        if !loop.stop(timeout: 5) {
            log("status subscriber: thread did not stop within 5 s")
        }
    }

    /// Declares a new queue, binds it and relays its events until `stop()` or an error.
    private func serve(_ c: AMQPConnection, _ established: () -> Void) throws {
        try c.declareExchange(name: exchange, type: "topic", durable: true)
        let queue = try c.declareQueue(name: "", durable: false, exclusive: true, autoDelete: true)
        for key in bindingKeys { try c.bindQueue(queue, exchange: exchange, routingKey: key) }
        _ = try c.consume(queue: queue, noAck: true)
        established()
        log("status subscriber bound \(bindingKeys) on '\(exchange)' at \(c.url)")
        while !loop.isStopping {
            if let delivery = try c.nextDelivery(timeout: 0.2) {
                onEvent(delivery.routingKey, delivery.body)
            }
        }
    }
}
