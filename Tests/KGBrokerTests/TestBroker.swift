import Foundation
import KGBroker
import XCTest

struct BrokerNotConfigured: Error, CustomStringConvertible {
    var description: String { "KG_AMQP_URL is not set" }
}

/// The broker the tests use, from KG_AMQP_URL; the test fails (not skips) without it.
enum TestBroker {
    static func url(file: StaticString = #filePath, line: UInt = #line) throws -> AMQPURL {
        guard let raw = ProcessInfo.processInfo.environment["KG_AMQP_URL"], !raw.isEmpty else {
            XCTFail(
                """
                KG_AMQP_URL is not set. These tests need a running RabbitMQ: start one with \
                `deploy/local/services.sh start` and run \
                `KG_AMQP_URL=amqp://guest:guest@127.0.0.1:55672/%2f swift test` (`make test` sets it).
                """, file: file, line: line)
            throw BrokerNotConfigured()
        }
        return try AMQPURL(raw)
    }

    /// A name no other test run uses.
    static func unique(_ base: String) -> String {
        "\(base).\(UUID().uuidString.lowercased())"
    }

    /// A topology under a unique prefix, declared; delete it with `cleanUp`.
    /// Publishes `bodies` (each also its message id) to the topology's job exchange, confirmed.
    static func publish(_ topology: JobTopology, _ bodies: [String]) throws {
        let connection = try AMQPConnection(url: try url())
        defer { connection.close() }
        try connection.enablePublisherConfirms()
        for body in bodies {
            try connection.publish(
                exchange: topology.jobExchange, routingKey: topology.jobRoutingKey, body: body.bytes, mandatory: true,
                messageId: body)
        }
    }

    /// A consumer's three answers on a `queueType` job queue: `.ack` removes a job, `.requeue`
    /// hands it back once (redelivered), `.deadLetter` moves it to the dead-letter queue.
    static func assertAckRequeueAndDeadLetter(queueType: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let topology = try TestBroker.topology(queueType: queueType)
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
        XCTAssertTrue(
            TestBroker.eventually(timeout: 10) { seen.count == 4 && consumer.activeJobCount == 0 }, "\(seen.all)", file: file,
            line: line)
        consumer.stop()
        XCTAssertEqual(Set(seen.all), ["ok", "retry", "retry*", "poison"], file: file, line: line)

        let check = try AMQPConnection(url: try TestBroker.url())
        defer { check.close() }
        XCTAssertEqual(try check.purgeQueue(topology.jobQueue), 0, file: file, line: line)
        _ = try check.consume(queue: topology.deadLetterQueue, noAck: true)
        XCTAssertEqual(try check.nextDelivery(timeout: 5)?.body, "poison".bytes, file: file, line: line)
    }

    static func topology(queueType: String = "classic") throws -> JobTopology {
        let topology = JobTopology(prefix: unique("kgtest"), queueType: queueType)
        let connection = try AMQPConnection(url: try url())
        defer { connection.close() }
        try topology.declare(on: connection)
        return topology
    }

    static func cleanUp(_ topology: JobTopology) {
        guard let connection = try? AMQPConnection(url: try url()) else { return }
        defer { connection.close() }
        try? topology.delete(on: connection)
    }

    /// Polls `condition` until true or `timeout`; returns the last value.
    static func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }
}

/// A thread-safe list, for collecting what callbacks saw.
final class Collected<Element: Sendable>: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var items: [Element] = []

    func append(_ item: Element) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var all: [Element] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }

    var count: Int { all.count }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
