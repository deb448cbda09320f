import Foundation

/// Fire-and-forget publisher of small status events on the topic exchange, with routing key
/// `job.<id>.<event>`. Thread-safe; `publish` never blocks the caller.
///
/// Events go through a bounded queue to a `BrokerThread` that owns the connection (no
/// confirms, not persistent). While the broker is unreachable events are dropped and the drops
/// are logged (at most once a second, with a count); the thread reconnects in the background
/// with capped exponential backoff. Status is advisory: the job row is the source of truth.
///
/// ```swift
/// let status = StatusPublisher(url: url, exchange: topology.statusExchange, log: { print($0) })
/// status.publish(jobID: id, event: "progress", body: Array(#"{"done":10}"#.utf8))
/// status.shutdown()
/// ```
public final class StatusPublisher: @unchecked Sendable {
    // Thread-safety: `connection`, `backoff`, `nextAttempt` and the drop counters are only
    // touched on `thread`; `connected` and `overflowDrops` are guarded by `lock`.
    public let url: AMQPURL
    /// The nodes this publisher may connect to, and the one it is connected to.
    public let nodes: BrokerNodes
    public let exchange: String
    private let heartbeatSeconds: Int
    private let connectTimeout: Double
    private let maxQueued: Int
    private let log: BrokerLog
    private let thread: BrokerThread
    private var connection: AMQPConnection?
    private var backoff: Backoff
    private var nextAttempt = 0.0
    private var dropsSinceLog = 0
    private var lastDropReason = ""
    private var lastDropLog = 0.0
    private let lock = NSLock()
    private var connected = false
    private var overflowDrops = 0

    /// - Parameters:
    ///   - connectTimeout: bound for one connect attempt (keeps the queue moving when the
    ///     broker host is black-holed).
    ///   - maxQueued: events waiting for the thread beyond this are dropped.
    public convenience init(
        url: AMQPURL, exchange: String, heartbeatSeconds: Int = 30, connectTimeout: Double = 1, maxQueued: Int = 1000,
        backoff: Backoff = Backoff(), log: @escaping BrokerLog = { _ in }
    ) {
        self.init(
            nodes: BrokerNodes(url), exchange: exchange, heartbeatSeconds: heartbeatSeconds, connectTimeout: connectTimeout,
            maxQueued: maxQueued, backoff: backoff, log: log)
    }

    /// - Parameter nodes: the nodes of the cluster; after losing one, events go through another.
    public init(
        nodes: BrokerNodes, exchange: String, heartbeatSeconds: Int = 30, connectTimeout: Double = 1, maxQueued: Int = 1000,
        backoff: Backoff = Backoff(), log: @escaping BrokerLog = { _ in }
    ) {
        self.url = nodes.urls[0]
        self.nodes = nodes
        self.exchange = exchange
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeout = connectTimeout
        self.maxQueued = maxQueued
        self.backoff = backoff
        self.log = log
        self.thread = BrokerThread(name: "kg-status-pub")
        thread.setTick(interval: 1) { [weak self] in self?.tick() }
        thread.submit { [weak self] in _ = self?.connectIfDue() }
    }

    deinit { thread.stop(timeout: 0) }

    /// The routing key of an event: `job.<jobID>.<event>`.
    public static func routingKey(jobID: String, event: String) -> String {
        "job.\(jobID).\(event)"
    }

    /// True while the publisher holds an open connection.
    public var isConnected: Bool {
        lock.lock()
        defer { lock.unlock() }
        return connected
    }

    /// Queues one event and returns at once. Dropped (and logged) if the broker is down or the
    /// queue is full.
    public func publish(jobID: String, event: String, body: [UInt8]) {
        publish(routingKey: Self.routingKey(jobID: jobID, event: event), body: body)
    }

    /// Publishes one event under any routing key (a worker's presence: `worker.presence`).
    public func publish(routingKey key: String, body: [UInt8]) {
        guard thread.queuedCount < maxQueued else {
            lock.lock()
            overflowDrops += 1
            lock.unlock()
            return
        }
        thread.submit { [self] in send(routingKey: key, body: body) }
    }

    /// Waits until the events queued so far have been handed to the broker (or dropped).
    public func flush() async {
        _ = try? await thread.run {}
    }

    /// Sends what is queued, closes the connection and stops the thread.
    public func shutdown() {
        thread.submit { [self] in
            connection?.close()
            connection = nil
            setConnected(false)
        }
        thread.stop()
    }

    private func send(routingKey: String, body: [UInt8]) {
        guard let connection = connectIfDue() else {
            dropped(routingKey, because: "broker unreachable")
            return
        }
        do {
            try connection.publish(exchange: exchange, routingKey: routingKey, body: body, persistent: false, mandatory: false)
        } catch {
            dropped(routingKey, because: error.brokerReason)
            drop()
        }
    }

    private func connectIfDue() -> AMQPConnection? {
        if let connection, connection.isOpen { return connection }
        drop()
        guard monotonicNow() >= nextAttempt else { return nil }
        do {
            let connection = try nodes.connect {
                try AMQPConnection(url: $0, heartbeatSeconds: heartbeatSeconds, connectTimeout: connectTimeout)
            }
            self.connection = connection
            backoff.reset()
            setConnected(true)
            log("status publisher connected to \(connection.url)")
            return connection
        } catch {
            nextAttempt = monotonicNow() + backoff.next()
            return nil
        }
    }

    private func tick() {
        if let connection {
            do { try connection.poll(timeout: 0) } catch {
                log("status publisher: \(error)")
                drop()
            }
        } else {
            _ = connectIfDue()
        }
        lock.lock()
        let overflow = overflowDrops
        overflowDrops = 0
        lock.unlock()
        if overflow > 0 { log("status publisher: dropped \(overflow) events: more than \(maxQueued) queued") }
        if dropsSinceLog > 0 { flushDropLog() }
    }

    private func dropped(_ routingKey: String, because reason: String) {
        dropsSinceLog += 1
        lastDropReason = "\(routingKey): \(reason)"
        if monotonicNow() - lastDropLog >= 1 { flushDropLog() }
    }

    private func flushDropLog() {
        log("status publisher: dropped \(dropsSinceLog) event(s), last \(lastDropReason)")
        dropsSinceLog = 0
        lastDropLog = monotonicNow()
    }

    private func drop() {
        let wasConnected = connection != nil
        connection?.close()
        connection = nil
        nodes.disconnected()
        if wasConnected { setConnected(false) }
    }

    private func setConnected(_ value: Bool) {
        lock.lock()
        connected = value
        lock.unlock()
    }
}
