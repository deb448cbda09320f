import Foundation

/// The broker nodes one component may connect to (`amqp_urls`: the nodes of one RabbitMQ
/// cluster), and the one it is connected to now.
///
/// `connect` tries the nodes in turn, starting after the node of the previous connection, so
/// that a component whose node died moves to the next node instead of retrying the dead one
/// first; the first connection starts at a random node, which spreads gateways and workers
/// over the cluster. Thread-safe: `current` is read by readiness checks and metrics.
///
/// ```swift
/// let nodes = BrokerNodes([url1, url2, url3])
/// let connection = try nodes.connect { try AMQPConnection(url: $0, heartbeatSeconds: 30) }
/// nodes.current   // "127.0.0.1:5672" while that connection holds
/// nodes.disconnected()
/// ```
public final class BrokerNodes: @unchecked Sendable {
    public let urls: [AMQPURL]
    // Guarded by `lock`.
    private let lock = NSLock()
    private var next: Int
    private var connectedIndex: Int?

    /// - Parameter urls: at least one URL; with one, this is the plain single-node behaviour.
    public init(_ urls: [AMQPURL], start: Int? = nil) {
        precondition(!urls.isEmpty, "BrokerNodes needs at least one URL")
        self.urls = urls
        self.next = (start ?? Int.random(in: 0..<urls.count)) % urls.count
    }

    public convenience init(_ url: AMQPURL) { self.init([url], start: 0) }

    /// Parses a comma-separated list of amqp:// URLs (`amqp_urls`); throws `invalidURL`.
    public static func parse(_ list: String) throws -> [AMQPURL] {
        let parts = list.split(separator: ",").map { String($0) }.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard !parts.isEmpty else { throw BrokerError.invalidURL("the list of broker URLs is empty") }
        return try parts.map { try AMQPURL($0) }
    }

    /// The node (`host:port`) of the connection that holds now, or nil.
    public var current: String? {
        lock.lock()
        defer { lock.unlock() }
        return connectedIndex.map { urls[$0].node }
    }

    /// The URL to show in messages: the only one, or every node.
    public var description: String {
        urls.count == 1 ? urls[0].description : urls.map(\.description).joined(separator: ", ")
    }

    /// Opens a connection to the first node that answers, trying each node once.
    ///
    /// - Throws: with one node, its error; with several, `unreachable` naming every node and
    ///   its reason.
    public func connect(_ open: (AMQPURL) throws -> AMQPConnection) throws -> AMQPConnection {
        let start: Int = withLock {
            connectedIndex = nil
            return next
        }
        var problems: [String] = []
        var lastError: Error?
        for offset in 0..<urls.count {
            let index = (start + offset) % urls.count
            do {
                let connection = try open(urls[index])
                withLock {
                    connectedIndex = index
                    // After this connection is lost, start with the node after it.
                    next = (index + 1) % urls.count
                }
                return connection
            } catch {
                lastError = error
                problems.append("\(urls[index].node): \(error.brokerReason)")
            }
        }
        if urls.count == 1, let lastError { throw lastError }
        throw BrokerError.unreachable(
            "any of the \(urls.count) broker nodes", problems.joined(separator: "; "))
    }

    /// The connection was closed or lost.
    public func disconnected() {
        withLock { connectedIndex = nil }
    }

    private func withLock<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }
}

extension AMQPURL {
    /// `host:port`: names a broker node in logs, `/readyz` and metrics.
    public var node: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }
}
