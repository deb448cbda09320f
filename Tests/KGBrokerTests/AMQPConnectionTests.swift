import Foundation
import KGBroker
import KGTestSupport
import XCTest

/// AMQPConnection against the real broker (KG_AMQP_URL).
final class AMQPConnectionTests: XCTestCase {
    private var queues: [String] = []
    private var exchanges: [String] = []

    override func tearDown() {
        // Read the variable directly: a missing KG_AMQP_URL was already reported by the test.
        if let raw = ProcessInfo.processInfo.environment["KG_AMQP_URL"], let url = try? AMQPURL(raw),
            let connection = try? AMQPConnection(url: url)
        {
            for q in queues { try? connection.deleteQueue(q) }
            for e in exchanges { try? connection.deleteExchange(e) }
            connection.close()
        }
        queues = []
        exchanges = []
    }

    private func makeQueue(_ connection: AMQPConnection, arguments: [String: AMQPFieldValue] = [:]) throws -> String {
        let name = TestBroker.unique("kgtest.q")
        try connection.declareQueue(name: name, durable: true, arguments: arguments)
        queues.append(name)
        return name
    }

    func testPublishWithConfirmsThenConsumeTheSameMessage() throws {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        let queue = try makeQueue(connection)
        try connection.enablePublisherConfirms()
        let body = Array("{\"job\":1}".utf8) + [0, 255]
        try connection.publish(
            exchange: "", routingKey: queue, body: body, persistent: true, mandatory: true,
            headers: ["kind": "backup"], messageId: "job-1")

        _ = try connection.consume(queue: queue, noAck: false)
        let delivery = try XCTUnwrap(try connection.nextDelivery(timeout: 5))
        XCTAssertEqual(delivery.body, body)
        XCTAssertEqual(delivery.routingKey, queue)
        XCTAssertEqual(delivery.exchange, "")
        XCTAssertEqual(delivery.headers, ["kind": "backup"])
        XCTAssertEqual(delivery.messageId, "job-1")
        XCTAssertFalse(delivery.redelivered)
        XCTAssertNil(delivery.deliveryCount)
        try connection.ack(deliveryTag: delivery.deliveryTag)
        XCTAssertNil(try connection.nextDelivery(timeout: 0.2))
    }

    func testServerNamedQueue() throws {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        let name = try connection.declareQueue(name: "", durable: false, exclusive: true, autoDelete: true)
        XCTAssertTrue(name.hasPrefix("amq.gen-"), name)
    }

    func testMandatoryUnroutablePublishIsRejected() throws {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        let exchange = TestBroker.unique("kgtest.x")
        try connection.declareExchange(name: exchange, type: "direct", durable: false)
        exchanges.append(exchange)
        try connection.enablePublisherConfirms()
        XCTAssertThrowsError(try connection.publish(exchange: exchange, routingKey: "nowhere", body: [1], mandatory: true)) {
            guard case BrokerError.publishRejected(let why) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("NO_ROUTE"), why)
        }
        // The connection stays usable, and without `mandatory` the message is dropped silently.
        XCTAssertTrue(connection.isOpen)
        try connection.publish(exchange: exchange, routingKey: "nowhere", body: [1], mandatory: false)
    }

    func testPrefetchOneHoldsBackTheSecondMessageUntilTheFirstIsAcked() throws {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        let queue = try makeQueue(connection)
        try connection.enablePublisherConfirms()
        try connection.publish(exchange: "", routingKey: queue, body: Array("first".utf8))
        try connection.publish(exchange: "", routingKey: queue, body: Array("second".utf8))

        let consumer = try AMQPConnection(url: try TestBroker.url())
        defer { consumer.close() }
        try consumer.qos(prefetchCount: 1)
        _ = try consumer.consume(queue: queue, noAck: false)
        let first = try XCTUnwrap(try consumer.nextDelivery(timeout: 5))
        XCTAssertEqual(first.body, Array("first".utf8))
        XCTAssertNil(try consumer.nextDelivery(timeout: 0.5), "prefetch 1 must hold the second message back")
        try consumer.ack(deliveryTag: first.deliveryTag)
        let second = try XCTUnwrap(try consumer.nextDelivery(timeout: 5))
        XCTAssertEqual(second.body, Array("second".utf8))
        try consumer.ack(deliveryTag: second.deliveryTag)
    }

    func testNackWithRequeueRedelivers() throws {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        let queue = try makeQueue(connection)
        try connection.enablePublisherConfirms()
        try connection.publish(exchange: "", routingKey: queue, body: [7])
        _ = try connection.consume(queue: queue)
        let first = try XCTUnwrap(try connection.nextDelivery(timeout: 5))
        XCTAssertFalse(first.redelivered)
        try connection.nack(deliveryTag: first.deliveryTag, requeue: true)
        let again = try XCTUnwrap(try connection.nextDelivery(timeout: 5))
        XCTAssertTrue(again.redelivered)
        XCTAssertEqual(again.body, [7])
        try connection.ack(deliveryTag: again.deliveryTag)
    }

    func testRejectLandsInTheDeadLetterQueue() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        try connection.enablePublisherConfirms()
        try connection.publish(
            exchange: topology.jobExchange, routingKey: topology.jobRoutingKey, body: Array("poison".utf8),
            mandatory: true, messageId: "j-dead")
        _ = try connection.consume(queue: topology.jobQueue)
        let delivery = try XCTUnwrap(try connection.nextDelivery(timeout: 5))
        try connection.reject(deliveryTag: delivery.deliveryTag, requeue: false)

        let dead = try AMQPConnection(url: try TestBroker.url())
        defer { dead.close() }
        _ = try dead.consume(queue: topology.deadLetterQueue)
        let letter = try XCTUnwrap(try dead.nextDelivery(timeout: 5), "the rejected job must be dead-lettered")
        XCTAssertEqual(letter.body, Array("poison".utf8))
        XCTAssertEqual(letter.messageId, "j-dead")
        XCTAssertEqual(letter.exchange, topology.deadLetterExchange)
        try dead.ack(deliveryTag: letter.deliveryTag)
        XCTAssertNil(try connection.nextDelivery(timeout: 0.3), "nothing left in the job queue")
    }

    func testUnackedMessageOfAClosedConsumerIsRedeliveredToAnother() throws {
        let setup = try AMQPConnection(url: try TestBroker.url())
        defer { setup.close() }
        let queue = try makeQueue(setup)
        try setup.enablePublisherConfirms()
        try setup.publish(exchange: "", routingKey: queue, body: Array("job".utf8))

        // Worker A takes the job and dies without acking.
        let workerA = try AMQPConnection(url: try TestBroker.url())
        try workerA.qos(prefetchCount: 1)
        _ = try workerA.consume(queue: queue)
        let taken = try XCTUnwrap(try workerA.nextDelivery(timeout: 5))
        XCTAssertFalse(taken.redelivered)

        let workerB = try AMQPConnection(url: try TestBroker.url())
        defer { workerB.close() }
        try workerB.qos(prefetchCount: 1)
        _ = try workerB.consume(queue: queue)
        XCTAssertNil(try workerB.nextDelivery(timeout: 0.3), "B gets nothing while A holds the job")
        workerA.close()

        let redelivered = try XCTUnwrap(try workerB.nextDelivery(timeout: 5))
        XCTAssertEqual(redelivered.body, Array("job".utf8))
        XCTAssertTrue(redelivered.redelivered)
        try workerB.ack(deliveryTag: redelivered.deliveryTag)
    }

    func testQuorumQueueReportsDeliveryCount() throws {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        let queue = try makeQueue(connection, arguments: ["x-queue-type": "quorum", "x-delivery-limit": 5])
        try connection.enablePublisherConfirms()
        try connection.publish(exchange: "", routingKey: queue, body: [1])
        try connection.qos(prefetchCount: 1)
        _ = try connection.consume(queue: queue)
        let first = try XCTUnwrap(try connection.nextDelivery(timeout: 5))
        XCTAssertNil(first.deliveryCount)
        try connection.nack(deliveryTag: first.deliveryTag, requeue: true)
        let second = try XCTUnwrap(try connection.nextDelivery(timeout: 5))
        XCTAssertEqual(second.deliveryCount, 1)
        try connection.ack(deliveryTag: second.deliveryTag)
    }

    func testChannelErrorIsReadableAndLeavesTheConnectionClosed() throws {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        let queue = try makeQueue(connection)
        XCTAssertThrowsError(try connection.declareQueue(name: queue, durable: false)) {
            guard case BrokerError.protocolError(let why) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("PRECONDITION_FAILED"), why)
        }
        XCTAssertFalse(connection.isOpen)
        XCTAssertThrowsError(try connection.nextDelivery(timeout: 0.1)) {
            guard case BrokerError.connectionLost = $0 else { return XCTFail("\($0)") }
        }
    }

    func testUnreachablePortThrowsUnreachableWithoutPassword() throws {
        var url = try TestBroker.url()
        url.port = freePort()
        url.password = "topsecret"
        XCTAssertThrowsError(try AMQPConnection(url: url, connectTimeout: 1)) {
            guard case BrokerError.unreachable(let where_, _) = $0 else { return XCTFail("\($0)") }
            XCTAssertFalse(where_.contains("topsecret"))
            XCTAssertFalse("\($0)".contains("topsecret"))
        }
    }

    func testWrongPasswordIsReported() throws {
        var url = try TestBroker.url()
        url.password = "wrong-\(UUID())"
        XCTAssertThrowsError(try AMQPConnection(url: url, connectTimeout: 2)) {
            guard case BrokerError.unreachable(_, let why) = $0 else { return XCTFail("\($0)") }
            XCTAssertTrue(why.contains("login"), why)
        }
    }
}
