import Foundation
import KGBroker
import KGFormat

/// The job queue on RabbitMQ: persistent, mandatory, confirmed publishes, through any node of
/// the cluster (`amqp_urls`).
struct BrokerJobQueue: JobQueue {
    let publisher: JobPublisher
    var subscriber: StatusSubscriber?
    var cluster: ClusterProbe?

    func publish(_ message: JobMessage) async throws {
        let body = try JSONEncoder().encode(message)
        // No majority: a quorum queue takes no job; say so at once instead of after the
        // publish deadline (with one node configured there is nothing to ask).
        if let cluster, cluster.urls.count > 1 {
            let view = await cluster.view()
            if !view.hasMajority { throw NoBrokerMajority(view: view) }
        }
        do {
            try await publisher.publish(job: Array(body), messageId: message.jobID)
        } catch {
            // The publish failed: if the cluster lost its majority meanwhile, that is the cause.
            if let cluster, cluster.urls.count > 1 {
                let view = await cluster.view()
                if !view.hasMajority { throw NoBrokerMajority(view: view) }
            }
            throw error
        }
    }

    var isReady: Bool { publisher.isConnected }

    func brokerState() async -> BrokerState {
        let view = await cluster?.view()
        let nodes = view?.nodes ?? publisher.nodes.urls.map(\.node)
        return BrokerState(
            publisherNode: publisher.nodes.current, subscriberNode: subscriber?.nodes.current,
            nodes: nodes, reachable: view?.reachable ?? (publisher.isConnected ? nodes : []))
    }
}
