/// Which of the configured broker nodes answered an AMQP login just now, and whether they make
/// a majority (a quorum queue needs one: 2 of 3, 3 of 5). With one node configured, the
/// "cluster" is that node.
public struct ClusterView: Sendable, Equatable {
    /// Every configured node, `host:port`.
    public var nodes: [String]
    /// The nodes that accepted a connection.
    public var reachable: [String]

    public init(nodes: [String], reachable: [String]) {
        self.nodes = nodes
        self.reachable = reachable
    }

    public var hasMajority: Bool { reachable.count * 2 > nodes.count }

    /// "2 of 3 broker nodes reachable (127.0.0.1:5672, …)".
    public var summary: String {
        "\(reachable.count) of \(nodes.count) broker node\(nodes.count == 1 ? "" : "s") reachable"
            + (reachable.isEmpty ? "" : " (\(reachable.joined(separator: ", ")))")
    }

    /// The message for a refused request while there is no majority, naming the cause and what
    /// brings the service back.
    public var noMajorityMessage: String {
        "the RabbitMQ cluster has no majority: \(summary); a quorum job queue accepts no job until "
            + "\(nodes.count / 2 + 1) of \(nodes.count) nodes run again"
    }
}
