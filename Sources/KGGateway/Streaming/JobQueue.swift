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
