import KGFormat

/// Where the gateway sends jobs (the broker's durable job queue in production).
protocol JobQueue: Sendable {
    /// Publishes and waits for the broker's confirmation; throws when the broker is away.
    func publish(_ message: JobMessage) async throws
    var isReady: Bool { get }
    /// The broker nodes this gateway is connected to and whether the cluster has a majority
    /// (`/readyz`, `/metrics`).
    func brokerState() async -> BrokerState
}

/// What `/readyz` and `/metrics` say about the broker.
struct BrokerState: Sendable {
    /// Node (`host:port`) of the job publisher's connection, nil while it has none.
    var publisherNode: String?
    /// Node of the status subscriber's connection.
    var subscriberNode: String?
    /// Every configured node.
    var nodes: [String]
    /// The nodes that accepted a login just now.
    var reachable: [String]

    var hasMajority: Bool { reachable.count * 2 > nodes.count }
}
