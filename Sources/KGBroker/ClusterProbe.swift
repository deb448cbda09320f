import Foundation

/// Asks every configured broker node for a login, on a thread of its own (rabbitmq-c blocks),
/// and says which answered and whether they are a majority. Answers are cached for `maxAge`
/// seconds so that readiness checks, scrapes and refused requests cost the brokers little.
///
/// This is the view from this process: a node that answers but sits in a minority partition
/// counts as reachable (docs/OPERATIONS.md, "A RabbitMQ cluster").
///
/// ```swift
/// let probe = ClusterProbe(nodes: BrokerNodes(urls))
/// let view = await probe.view()
/// if !view.hasMajority { print(view.noMajorityMessage) }
/// probe.shutdown()
/// ```
public final class ClusterProbe: @unchecked Sendable {
    public let urls: [AMQPURL]
    private let thread = BrokerThread(name: "kg-cluster-probe")
    private let connectTimeout: Double
    private let maxAge: Double
    // Only touched on `thread`.
    private var cached: (at: Double, view: ClusterView)?

    public init(urls: [AMQPURL], connectTimeout: Double = 1, maxAge: Double = 1) {
        self.urls = urls
        self.connectTimeout = connectTimeout
        self.maxAge = maxAge
    }

    /// The nodes that answer now (or within the last `maxAge` seconds).
    public func view() async -> ClusterView {
        let fallback = ClusterView(nodes: urls.map(\.node), reachable: [])
        return (try? await thread.run { [self] in viewOnThread() }) ?? fallback
    }

    private func viewOnThread() -> ClusterView {
        if let cached, monotonicNow() - cached.at < maxAge { return cached.view }
        var reachable: [String] = []
        for url in urls {
            if let connection = try? AMQPConnection(
                url: url, heartbeatSeconds: 0, connectTimeout: connectTimeout, rpcTimeout: connectTimeout)
            {
                connection.close()
                reachable.append(url.node)
            }
        }
        let view = ClusterView(nodes: urls.map(\.node), reachable: reachable)
        cached = (monotonicNow(), view)
        return view
    }

    public func shutdown() {
        _ = thread.stop()
    }
}
