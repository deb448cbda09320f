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
