import Foundation

/// A long-lived broker connection on its own ``BrokerThread``, from `start` to `stop`: it connects to one of
/// `nodes` and hands the connection to the owner's session, which sets it up, says so (`established`) and
/// serves it until `isStopping` (it returns) or a failure (it throws). After a failure the loop closes the
/// connection, logs the first failure of a run, waits the next backoff (cut short by `stop()`) and connects
/// again. ``JobConsumer`` and ``StatusSubscriber`` run on it.
///
/// ```swift
/// let loop = BrokerLoop(threadName: "kg-status-sub", label: "status subscriber", nodes: nodes, heartbeatSeconds: 10,
///                       connectTimeout: 1, backoff: Backoff(), log: log)
/// loop.start { connection, established in
///     try setUp(connection)
///     established()
///     while !loop.isStopping { try serveOnce(connection) }
/// }
/// loop.stop()
/// ```
final class BrokerLoop: @unchecked Sendable {
    /// A session: set up the connection, call `established()` once it serves, serve it until `isStopping`.
    typealias Session = @Sendable (_ connection: AMQPConnection, _ established: () -> Void) throws -> Void

    private let threadName: String
    /// Names the owner in the log ("job consumer: … ; reconnecting").
    private let label: String
    private let nodes: BrokerNodes
    private let heartbeatSeconds: Int
    private let connectTimeout: Double
    private let initialBackoff: Backoff
    private let log: BrokerLog

    // Guarded by `condition`.
    private let condition = NSCondition()
    private var started = false
    private var stopping = false
    private var connected = false
    private var thread: BrokerThread?

    init(
        threadName: String, label: String, nodes: BrokerNodes, heartbeatSeconds: Int, connectTimeout: Double,
        backoff: Backoff, log: @escaping BrokerLog
    ) {
        self.threadName = threadName
        self.label = label
        self.nodes = nodes
        self.heartbeatSeconds = heartbeatSeconds
        self.connectTimeout = connectTimeout
        self.initialBackoff = backoff
        self.log = log
    }

    deinit { thread?.stop(timeout: 0) }

    /// True once `stop()` was called: a session returns.
    var isStopping: Bool { withLock { stopping } }

    /// True between a session's `established()` and the end of its connection.
    var isConnected: Bool { withLock { connected } }

    /// Starts the thread. `lost` runs on it after each failed or broken connection, before the pause;
    /// `ended` once, when `stop()` ends the loop. Calling it again does nothing.
    func start(lost: @escaping @Sendable () -> Void = {}, ended: @escaping @Sendable () -> Void = {}, session: @escaping Session) {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        let thread = BrokerThread(name: threadName)
        self.thread = thread
        thread.submit { [self] in
            run(session, lost: lost)
            ended()
        }
    }

    /// Blocks until a session is established (or `timeout` passes, or `stop()`); returns `isConnected`.
    func waitUntilConnected(timeout: Double) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while !connected && !stopping {
            if !condition.wait(until: deadline) { break }
        }
        return connected
    }

    /// Ends the loop: the session returns, the connection closes, and the thread is joined within
    /// `timeout` seconds (false when it was not). Safe to call more than once, and before `start`.
    @discardableResult
    func stop(timeout: Double = 5) -> Bool {
        condition.lock()
        stopping = true
        condition.broadcast()
        let thread = self.thread
        self.thread = nil
        condition.unlock()
        return thread?.stop(timeout: timeout) ?? true
    }

    private func run(_ session: Session, lost: () -> Void) {
        var backoff = initialBackoff
        var reportedFailure = false
        while !isStopping {
            var connection: AMQPConnection?
            do {
                let c = try nodes.connect {
                    try AMQPConnection(url: $0, heartbeatSeconds: heartbeatSeconds, connectTimeout: connectTimeout)
                }
                connection = c
                try session(c) {
                    backoff.reset()
                    reportedFailure = false
                    setConnected(true)
                }
                c.close()
                nodes.disconnected()
            } catch {
                connection?.close()
                nodes.disconnected()
                setConnected(false)
                if !reportedFailure { log("\(label): \(error); reconnecting") }
                reportedFailure = true
                lost()
                pause(backoff.next())
            }
        }
        setConnected(false)
    }

    private func setConnected(_ value: Bool) {
        withLock {
            connected = value
            condition.broadcast()
        }
    }

    /// Sleeps `seconds` unless `stop()` is called first.
    private func pause(_ seconds: Double) {
        let until = Date(timeIntervalSinceNow: seconds)
        condition.lock()
        while !stopping, condition.wait(until: until) {}
        condition.unlock()
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        condition.lock()
        defer { condition.unlock() }
        return try body()
    }
}
