import KGBroker
import KGFormat
import Foundation

/// The job queue on RabbitMQ: persistent, mandatory, confirmed publishes.
struct BrokerJobQueue: JobQueue {
    let publisher: JobPublisher

    func publish(_ message: JobMessage) async throws {
        let body = try JSONEncoder().encode(message)
        try await publisher.publish(job: Array(body), messageId: message.jobID)
    }

    var isReady: Bool { publisher.isConnected }
}
