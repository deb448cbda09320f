import Foundation
import KGBroker
import XCTest

final class JobConsumerTests: XCTestCase {
    private func publish(_ topology: JobTopology, _ bodies: [String]) throws {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        try connection.enablePublisherConfirms()
        for body in bodies {
            try connection.publish(
                exchange: topology.jobExchange, routingKey: topology.jobRoutingKey, body: body.bytes, mandatory: true,
                messageId: body)
        }
    }

    func testLongJobWithOneSecondHeartbeatKeepsTheConnection() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        try publish(topology, ["long"])
        let logs = Collected<String>()
        let handled = Collected<String>()
        let consumer = JobConsumer(
            url: try TestBroker.url(), queue: topology.jobQueue, heartbeatSeconds: 1, log: { logs.append($0) }
        ) { delivery in
            // The handler thread blocks; only the consumer thread services the connection.
            Thread.sleep(forTimeInterval: 3.5)
            handled.append(String(decoding: delivery.body, as: UTF8.self))
            return .ack
        }
        consumer.start()
        XCTAssertTrue(TestBroker.eventually(timeout: 10) { handled.count == 1 && consumer.activeJobCount == 0 })
        XCTAssertEqual(consumer.connectionCount, 1, "no reconnect during the job: \(logs.all)")
        XCTAssertTrue(consumer.isConnected)
        consumer.stop()

        // Acked, not merely returned to the queue when the consumer closed.
        let check = try AMQPConnection(url: try TestBroker.url())
        defer { check.close() }
        XCTAssertEqual(try check.purgeQueue(topology.jobQueue), 0)
    }

    func testDispositionsAckRequeueAndDeadLetter() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        try publish(topology, ["ok", "retry", "poison"])
        let seen = Collected<String>()
        let consumer = JobConsumer(url: try TestBroker.url(), queue: topology.jobQueue) { delivery in
            let name = String(decoding: delivery.body, as: UTF8.self)
            seen.append("\(name)\(delivery.redelivered ? "*" : "")")
            switch name {
            case "retry": return delivery.redelivered ? .ack : .requeue
            case "poison": return .deadLetter
            default: return .ack
            }
        }
        consumer.start()
        XCTAssertTrue(TestBroker.eventually(timeout: 10) { seen.count == 4 && consumer.activeJobCount == 0 })
        consumer.stop()
        XCTAssertEqual(Set(seen.all), ["ok", "retry", "retry*", "poison"])

        let check = try AMQPConnection(url: try TestBroker.url())
        defer { check.close() }
        XCTAssertEqual(try check.purgeQueue(topology.jobQueue), 0)
        _ = try check.consume(queue: topology.deadLetterQueue, noAck: true)
        XCTAssertEqual(try check.nextDelivery(timeout: 5)?.body, "poison".bytes)
    }

    func testStopConsumingLetsTheCurrentJobFinishAndLeavesTheRest() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        try publish(topology, ["a", "b"])
        let handled = Collected<String>()
        let started = Collected<String>()
        let consumer = JobConsumer(url: try TestBroker.url(), queue: topology.jobQueue, prepare: topology.declare) { delivery in
            started.append(String(decoding: delivery.body, as: UTF8.self))
            Thread.sleep(forTimeInterval: 1)
            handled.append(String(decoding: delivery.body, as: UTF8.self))
            return .ack
        }
        consumer.start()
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { started.count == 1 })
        consumer.stopConsuming()
        consumer.stop(drainTimeout: 5)
        XCTAssertEqual(handled.all, ["a"])

        let check = try AMQPConnection(url: try TestBroker.url())
        defer { check.close() }
        XCTAssertEqual(try check.purgeQueue(topology.jobQueue), 1, "b stays queued for another worker")
    }
}
