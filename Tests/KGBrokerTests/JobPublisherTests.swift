import Foundation
import KGBroker
import KGTestSupport
import XCTest

final class JobPublisherTests: XCTestCase {
    func testPublishedJobReachesTheJobQueue() async throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let publisher = JobPublisher(url: try TestBroker.url(), topology: topology)
        defer { publisher.shutdown() }
        try await publisher.publish(job: Array("{\"op\":\"backup\"}".utf8), messageId: "job-42", headers: ["op": "backup"])
        XCTAssertTrue(publisher.isConnected)

        let delivery = try consumeOne(topology.jobQueue)
        XCTAssertEqual(delivery?.messageId, "job-42")
        XCTAssertEqual(delivery?.headers["op"], "backup")
        XCTAssertEqual(delivery?.body, Array("{\"op\":\"backup\"}".utf8))
    }

    func testUnroutableJobIsRejectedNotLost() async throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        // Routing key nobody binds: mandatory publish must come back as an error.
        let publisher = JobPublisher(url: try TestBroker.url(), exchange: topology.jobExchange, routingKey: "nobody")
        defer { publisher.shutdown() }
        do {
            try await publisher.publish(job: [1], messageId: "x")
            XCTFail("expected publishRejected")
        } catch BrokerError.publishRejected(let why) {
            XCTAssertTrue(why.contains("NO_ROUTE"), why)
        }
    }

    func testUnreachableBrokerFailsWithinTheDeadline() async throws {
        var url = try TestBroker.url()
        url.port = freePort()
        let logs = Collected<String>()
        let publisher = JobPublisher(
            url: url, exchange: "kg.jobs", routingKey: "job", deadline: 1, log: { logs.append($0) })
        defer { publisher.shutdown() }
        let started = Date()
        do {
            try await publisher.publish(job: [1], messageId: "x")
            XCTFail("expected unreachable")
        } catch BrokerError.unreachable(let where_, let why) {
            let elapsed = Date().timeIntervalSince(started)
            XCTAssertLessThan(elapsed, 2.5, "the deadline is 1 s")
            XCTAssertGreaterThan(elapsed, 0.5, "it retried until the deadline")
            XCTAssertTrue(where_.contains("\(url.port)"), where_)
            XCTAssertTrue(why.lowercased().contains("refused") || why.contains("socket"), why)
            print("unreachable after \(String(format: "%.2f", elapsed)) s: \(BrokerError.unreachable(where_, why))")
        }
        XCTAssertFalse(publisher.isConnected)
        XCTAssertFalse(logs.all.isEmpty)
    }

    func testThroughputOf5000ConfirmedPersistentPublishes() async throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let body = Array(repeating: UInt8(ascii: "x"), count: 200)
        let count = 5000

        // Straight on one connection (no thread hop).
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        try connection.enablePublisherConfirms()
        var started = Date()
        for i in 0..<count {
            try connection.publish(
                exchange: topology.jobExchange, routingKey: topology.jobRoutingKey, body: body, persistent: true,
                mandatory: true, messageId: "m\(i)")
        }
        let direct = Date().timeIntervalSince(started)

        // For comparison: transient messages (no disk write before the confirm).
        started = Date()
        for _ in 0..<count {
            try connection.publish(
                exchange: topology.jobExchange, routingKey: topology.jobRoutingKey, body: body, persistent: false,
                mandatory: true)
        }
        let transient = Date().timeIntervalSince(started)

        // Through JobPublisher from async code (hop to the broker thread per message).
        let publisher = JobPublisher(url: try TestBroker.url(), topology: topology)
        defer { publisher.shutdown() }
        started = Date()
        for i in 0..<count {
            try await publisher.publish(job: body, messageId: "p\(i)")
        }
        let viaPublisher = Date().timeIntervalSince(started)
        func rate(_ seconds: Double) -> String { String(format: "%.2f s (%.0f/s)", seconds, Double(count) / seconds) }
        print(
            "THROUGHPUT \(count) confirmed publishes of 200 B, one at a time: persistent via AMQPConnection \(rate(direct)), persistent via JobPublisher \(rate(viaPublisher)), transient via AMQPConnection \(rate(transient))"
        )
        XCTAssertEqual(try connection.purgeQueue(topology.jobQueue), 3 * count)
    }

    private func consumeOne(_ queue: String) throws -> Delivery? {
        let connection = try AMQPConnection(url: try TestBroker.url())
        defer { connection.close() }
        _ = try connection.consume(queue: queue, noAck: true)
        return try connection.nextDelivery(timeout: 5)
    }
}
