import Foundation

/// Reads queue depths with passive declares, on a connection and thread of its
/// own (rabbitmq-c blocks; the event loop must never wait on it). Connects
/// lazily, and again after any failure, so a broker restart costs one failed read.
///
/// ```swift
/// let probe = QueueProbe(url: url)
/// let stats = try await probe.read(["kg.jobs.work", "kg.jobs.dead"])
/// probe.shutdown()
/// ```
public final class QueueProbe: @unchecked Sendable {
    private let nodes: BrokerNodes
    private let thread = BrokerThread(name: "kg-queue-probe")
    private let connectTimeout: Double
    // Only touched on `thread`.
    private var connection: AMQPConnection?

    public convenience init(url: AMQPURL, connectTimeout: Double = 2) {
        self.init(nodes: BrokerNodes(url), connectTimeout: connectTimeout)
    }

    /// - Parameter nodes: the nodes of the cluster; after a failure the next read asks another.
    public init(nodes: BrokerNodes, connectTimeout: Double = 2) {
        self.nodes = nodes
        self.connectTimeout = connectTimeout
    }

    /// The stats of each queue, in order; throws when the broker is away.
    public func read(_ queues: [String]) async throws -> [QueueStats] {
        try await thread.run { [self] in
            do {
                let connection =
                    try self.connection
                    ?? nodes.connect {
                        try AMQPConnection(url: $0, heartbeatSeconds: 0, connectTimeout: connectTimeout, rpcTimeout: connectTimeout)
                    }
                self.connection = connection
                return try queues.map { name in
                    let (messages, consumers) = try connection.inspectQueue(name)
                    return QueueStats(queue: name, messages: messages, consumers: consumers)
                }
            } catch {
                // A lost connection, or a channel closed by a missing queue: start afresh next time.
                self.connection?.close()
                self.connection = nil
                nodes.disconnected()
                throw error
            }
        }
    }

    public func shutdown() {
        _ = try? thread.runSync { [self] in
            connection?.close()
            connection = nil
        }
        _ = thread.stop()
    }
}
