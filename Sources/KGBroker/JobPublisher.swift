import Foundation

/// Publishes jobs persistent, mandatory and confirmed, from any task or thread.
///
/// Owns a `BrokerThread` and one connection in confirm mode. When the connection is lost it
/// reconnects with capped exponential backoff and retries the publish, but never past the
/// deadline: then `publish` throws `BrokerError.unreachable`, which a gateway turns into a 503.
/// A retried publish may store a message twice (the first confirm was lost with the
/// connection): consumers dedupe by message id / job row.
///
/// ```swift
/// let publisher = JobPublisher(url: url, topology: JobTopology(), log: { print($0) })
/// try await publisher.publish(job: Array(json.utf8), messageId: jobID)
/// if publisher.isConnected { /* ready */ }
/// publisher.shutdown()
/// ```
public final class JobPublisher: @unchecked Sendable {
    // Thread-safety: `connection`, `backoff` and `nextAttempt` are only touched on `thread`;
    // `connected` is guarded by `lock`.
    public let url: AMQPURL
    /// The nodes this publisher may connect to, and the one it is connected to.
    public let nodes: BrokerNodes
    public let exchange: String
    public let routingKey: String
    /// How long one `publish` may take, reconnects included.
    public let deadline: Double
    private let heartbeatSeconds: Int
    private let connectTimeout: Double
    private let log: BrokerLog
    private let thread: BrokerThread
    private var connection: AMQPConnection?
    private var backoff: Backoff
    private var nextAttempt = 0.0
    private let lock = NSLock()
    private var connected = false

    /// - Parameters:
    ///   - deadline: bound for one publish including reconnects (default 5 s).
    ///   - prepare: run after every (re)connect, before publishing — e.g. `topology.declare`.
    public convenience init(
        url: AMQPURL, exchange: String, routingKey: String, deadline: Double = 5, heartbeatSeconds: Int = 30,
        connectTimeout: Double = 2, backoff: Backoff = Backoff(), log: @escaping BrokerLog = { _ in }
    ) {
        self.init(
            nodes: BrokerNodes(url), exchange: exchange, routingKey: routingKey, deadline: deadline,
            heartbeatSeconds: heartbeatSeconds, connectTimeout: connectTimeout, backoff: backoff, log: log)
    }

    /// - Parameter nodes: the nodes of the cluster; after losing one, the publisher connects to
    ///   another and enables confirms again there.
    public init(
        nodes: BrokerNodes, exchange: String, routingKey: String, deadline: Double = 5, heartbeatSeconds: Int = 30,
        connectTimeout: Double = 2, backoff: Backoff = Backoff(), log: @escaping BrokerLog = { _ in }
    ) {
        self.url = nodes.urls[0]
        self.nodes = nodes
        self.exchange = exchange
        self.routingKey = routingKey
        self.deadline = deadline
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeout = connectTimeout
        self.backoff = backoff
        self.log = log
        self.thread = BrokerThread(name: "kg-job-pub")
        // Connect early (readiness) and keep the idle connection serviced; weak: the thread
        // must not keep the publisher alive.
        thread.setTick(interval: 1) { [weak self] in self?.tick() }
        thread.submit { [weak self] in self?.tick() }
    }

    /// Publishes to the topology's job exchange with its job routing key.
    public convenience init(
        url: AMQPURL, topology: JobTopology, deadline: Double = 5, heartbeatSeconds: Int = 30,
        log: @escaping BrokerLog = { _ in }
    ) {
        self.init(nodes: BrokerNodes(url), topology: topology, deadline: deadline, heartbeatSeconds: heartbeatSeconds, log: log)
    }

    /// Publishes to the topology's job exchange, through any of `nodes`.
    public convenience init(
        nodes: BrokerNodes, topology: JobTopology, deadline: Double = 5, heartbeatSeconds: Int = 30,
        log: @escaping BrokerLog = { _ in }
    ) {
        self.init(
            nodes: nodes, exchange: topology.jobExchange, routingKey: topology.jobRoutingKey, deadline: deadline,
            heartbeatSeconds: heartbeatSeconds, log: log)
    }

    deinit { thread.stop(timeout: 0) }

    /// True while the publisher holds an open connection (readiness).
    public var isConnected: Bool {
        lock.lock()
        defer { lock.unlock() }
        return connected
    }

    /// Publishes one job and returns once the broker confirmed it.
    ///
    /// - Throws: `unreachable` when no confirmed publish succeeded within `deadline`;
    ///   `publishRejected` when the broker could not route it (no queue bound). A nacked
    ///   message is published again until the deadline.
    public func publish(job body: [UInt8], messageId: String, headers: [String: String] = [:]) async throws {
        let deadline = monotonicNow() + self.deadline
        try await thread.run { [self] in
            try publishOnThread(body: body, messageId: messageId, headers: headers, deadline: deadline)
        }
    }

    /// Stops the thread and closes the connection. Publishes after this throw `.stopped`.
    public func shutdown() {
        thread.submit { [self] in drop() }
        thread.stop()
    }

    private func publishOnThread(body: [UInt8], messageId: String, headers: [String: String], deadline: Double) throws {
        var lastProblem = "not connected"
        while true {
            let remaining = deadline - monotonicNow()
            guard remaining > 0 else {
                throw BrokerError.unreachable(nodes.description, "no confirmed publish within \(self.deadline) s (\(lastProblem))")
            }
            guard let connection = connectIfDue(deadline: deadline) else {
                lastProblem = lastConnectProblem ?? lastProblem
                // Wait for the next attempt, but not past the deadline.
                let pause = min(nextAttempt, deadline) - monotonicNow()
                if pause > 0 { Thread.sleep(forTimeInterval: pause) }
                continue
            }
            connection.confirmTimeout = remaining
            do {
                try connection.publish(
                    exchange: exchange, routingKey: routingKey, body: body, persistent: true, mandatory: true,
                    headers: headers, messageId: messageId)
                return
            } catch let error as BrokerError {
                if !connection.isOpen { drop() }
                if case .connectionLost(let why) = error {
                    lastProblem = why
                    log("job publish: connection lost (\(why)); reconnecting")
                    continue
                }
                if case .publishNacked(let why) = error {
                    // A quorum queue nacks while it elects a new leader (its node was lost):
                    // the message was not taken, so publish it again until the deadline. Should
                    // the broker have kept it after all, the job row dedupes the second copy.
                    lastProblem = "\(why); does the job queue have a leader (a majority of the cluster)?"
                    log("job publish: \(why); publishing again on a new connection")
                    // Measured on RabbitMQ 3.10: a channel whose queue leader died can go on
                    // nacking every publish after a new leader was elected; a new channel works.
                    drop()
                    let pause = min(nackPause, deadline - monotonicNow())
                    if pause > 0 { Thread.sleep(forTimeInterval: pause) }
                    continue
                }
                throw error
            }
        }
    }

    private var lastConnectProblem: String?
    /// Pause before publishing a nacked message again.
    private let nackPause = 0.25

    /// The open connection, or a new one if an attempt is due now; nil otherwise.
    private func connectIfDue(deadline: Double = .infinity) -> AMQPConnection? {
        if let connection, connection.isOpen { return connection }
        drop()
        guard monotonicNow() >= nextAttempt else { return nil }
        do {
            let timeout = min(connectTimeout, max(0.05, deadline - monotonicNow()))
            let connection = try nodes.connect { url in
                let connection = try AMQPConnection(url: url, heartbeatSeconds: heartbeatSeconds, connectTimeout: timeout)
                try connection.enablePublisherConfirms()
                return connection
            }
            self.connection = connection
            backoff.reset()
            lastConnectProblem = nil
            setConnected(true)
            log("job publisher connected to \(connection.url)")
            return connection
        } catch {
            let delay = backoff.next()
            nextAttempt = monotonicNow() + delay
            if lastConnectProblem == nil { log("job publisher cannot connect: \(error); retrying") }
            lastConnectProblem = error.brokerReason
            return nil
        }
    }

    /// Runs on the thread every second: services heartbeats, notices closes, reconnects.
    private func tick() {
        if let connection {
            do { try connection.poll(timeout: 0) } catch {
                log("job publisher: \(error)")
                drop()
            }
        } else {
            _ = connectIfDue()
        }
    }

    private func drop() {
        connection?.close()
        connection = nil
        nodes.disconnected()
        setConnected(false)
    }

    private func setConnected(_ value: Bool) {
        lock.lock()
        connected = value
        lock.unlock()
    }
}
