import Foundation
import KGBroker
import XCTest

final class JobConsumerTests: XCTestCase {
    func testLongJobWithOneSecondHeartbeatKeepsTheConnection() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        try TestBroker.publish(topology, ["long"])
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
        try TestBroker.assertAckRequeueAndDeadLetter(queueType: "classic")
    }

    func testStopConsumingLetsTheCurrentJobFinishAndLeavesTheRest() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        try TestBroker.publish(topology, ["a", "b"])
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
