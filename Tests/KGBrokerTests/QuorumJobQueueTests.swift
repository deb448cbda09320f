import Foundation
import KGBroker
import XCTest

/// The job queue as a quorum queue (`broker_queue_type: quorum`, used by the compose
/// deployment) behaves as the classic one does for everything the worker relies on:
/// ack, requeue, dead-letter, redelivery of an unacked job whose consumer went away.
final class QuorumJobQueueTests: XCTestCase {
    func testDeclaringTwiceIsIdempotentAndAClassicDeclarationIsRefused() throws {
        let topology = try TestBroker.topology(queueType: "quorum")
        defer { TestBroker.cleanUp(topology) }
        let again = try AMQPConnection(url: try TestBroker.url())
        defer { again.close() }
        XCTAssertNoThrow(try topology.declare(on: again))

        // A gateway or worker configured differently fails loudly instead of using another queue.
        let classic = try AMQPConnection(url: try TestBroker.url())
        defer { classic.close() }
        var classicTopology = topology
        classicTopology.queueType = "classic"
        XCTAssertThrowsError(try classicTopology.declare(on: classic)) { error in
            XCTAssertTrue("\(error)".contains("PRECONDITION_FAILED"), "\(error)")
        }
    }

    func testDispositionsAckRequeueAndDeadLetterOnAQuorumQueue() throws {
        try TestBroker.assertAckRequeueAndDeadLetter(queueType: "quorum")
    }

    /// Without `x-delivery-limit` a quorum queue never dead-letters on its own: a job that is
    /// handed back many times (database away, worker restarts) stays queued, as on a classic queue.
    func testManyRequeuesDoNotDeadLetterWithoutADeliveryLimit() throws {
        let topology = try TestBroker.topology(queueType: "quorum")
        defer { TestBroker.cleanUp(topology) }
        XCTAssertNil(topology.jobQueueArguments["x-delivery-limit"])
        try TestBroker.publish(topology, ["again"])
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        try connection.qos(prefetchCount: 1)
        _ = try connection.consume(queue: topology.jobQueue)
        for _ in 0..<25 {
            let delivery = try XCTUnwrap(try connection.nextDelivery(timeout: 5))
            try connection.nack(deliveryTag: delivery.deliveryTag, requeue: true)
        }
        let last = try XCTUnwrap(try connection.nextDelivery(timeout: 5))
        XCTAssertEqual(last.body, "again".bytes)
        XCTAssertGreaterThanOrEqual(last.deliveryCount ?? 0, 25)
        try connection.ack(deliveryTag: last.deliveryTag)
        XCTAssertEqual(try connection.purgeQueue(topology.deadLetterQueue), 0)
    }

    func testAnUnackedJobIsRedeliveredWhenItsConsumerGoesAway() throws {
        let topology = try TestBroker.topology(queueType: "quorum")
        defer { TestBroker.cleanUp(topology) }
        try TestBroker.publish(topology, ["job"])
        let workerA = try AMQPConnection(url: try TestBroker.url())
        try workerA.qos(prefetchCount: 1)
        _ = try workerA.consume(queue: topology.jobQueue)
        let first = try XCTUnwrap(try workerA.nextDelivery(timeout: 5))
        XCTAssertFalse(first.redelivered)

        let workerB = try AMQPConnection(url: try TestBroker.url())
        defer { workerB.close() }
        try workerB.qos(prefetchCount: 1)
        _ = try workerB.consume(queue: topology.jobQueue)
        XCTAssertNil(try workerB.nextDelivery(timeout: 0.3), "B gets nothing while A holds the job")
        workerA.close()
        let redelivered = try XCTUnwrap(try workerB.nextDelivery(timeout: 5))
        XCTAssertEqual(redelivered.body, "job".bytes)
        XCTAssertTrue(redelivered.redelivered)
        try workerB.ack(deliveryTag: redelivered.deliveryTag)
    }
}
