import Foundation
import KGBroker
import XCTest

/// Connection loss simulated by a TCP proxy in front of the shared broker (which keeps running).
final class ReconnectTests: XCTestCase {
    private func proxiedURL(_ proxy: TCPProxy) throws -> AMQPURL {
        var url = try TestBroker.url()
        url.port = proxy.port
        return url
    }

    private func makeProxy() throws -> TCPProxy {
        let url = try TestBroker.url()
        return try TCPProxy(targetHost: url.host, targetPort: url.port)
    }

    func testJobPublisherReconnectsAndRetriesThePublish() async throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let proxy = try makeProxy()
        defer { proxy.stop() }
        let logs = Collected<String>()
        let publisher = JobPublisher(url: try proxiedURL(proxy), topology: topology, deadline: 8, log: { logs.append($0) })
        defer { publisher.shutdown() }
        try await publisher.publish(job: [1], messageId: "before")

        proxy.setDown(true)
        XCTAssertTrue(TestBroker.eventually(timeout: 3) { !publisher.isConnected }, "readiness follows the connection")
        // Bring the "broker" back while the next publish is retrying.
        let revive = Task.detached {
            try await Task.sleep(nanoseconds: 1_000_000_000)
            proxy.setDown(false)
        }
        let started = Date()
        try await publisher.publish(job: [2], messageId: "after")
        let took = Date().timeIntervalSince(started)
        _ = try await revive.value
        XCTAssertGreaterThan(took, 0.5)
        XCTAssertTrue(publisher.isConnected)
        print("publish during a 1 s outage took \(String(format: "%.2f", took)) s")

        let check = try AMQPConnection(url: try TestBroker.url())
        defer { check.close() }
        _ = try check.consume(queue: topology.jobQueue, noAck: true)
        let ids = [try check.nextDelivery(timeout: 5)?.messageId, try check.nextDelivery(timeout: 5)?.messageId]
        XCTAssertEqual(ids, ["before", "after"])
    }

    func testStatusSubscriberResubscribesAfterConnectionLoss() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let proxy = try makeProxy()
        defer { proxy.stop() }
        let events = Collected<String>()
        let subscriber = StatusSubscriber(url: try proxiedURL(proxy), exchange: topology.statusExchange) { key, _ in
            events.append(key)
        }
        subscriber.start()
        defer { subscriber.stop() }
        XCTAssertTrue(subscriber.waitUntilConnected(timeout: 5))

        let publisher = StatusPublisher(url: try TestBroker.url(), exchange: topology.statusExchange)
        defer { publisher.shutdown() }
        publisher.publish(jobID: "j", event: "one", body: [])
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { events.count == 1 })

        proxy.cutConnections()
        XCTAssertTrue(TestBroker.eventually(timeout: 3) { !subscriber.isConnected })
        XCTAssertTrue(subscriber.waitUntilConnected(timeout: 5), "redeclared and rebound")
        publisher.publish(jobID: "j", event: "two", body: [])
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { events.count == 2 })
        XCTAssertEqual(events.all, ["job.j.one", "job.j.two"])
    }

    func testStatusPublisherRecoversInTheBackground() async throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let proxy = try makeProxy()
        defer { proxy.stop() }
        let events = Collected<String>()
        let subscriber = StatusSubscriber(url: try TestBroker.url(), exchange: topology.statusExchange) { key, _ in
            events.append(key)
        }
        subscriber.start()
        defer { subscriber.stop() }
        XCTAssertTrue(subscriber.waitUntilConnected(timeout: 5))
        let publisher = StatusPublisher(url: try proxiedURL(proxy), exchange: topology.statusExchange)
        defer { publisher.shutdown() }
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { publisher.isConnected })

        proxy.setDown(true)
        XCTAssertTrue(TestBroker.eventually(timeout: 3) { !publisher.isConnected })
        publisher.publish(jobID: "j", event: "lost", body: [])
        await publisher.flush()
        proxy.setDown(false)
        XCTAssertTrue(TestBroker.eventually(timeout: 8) { publisher.isConnected }, "reconnects without traffic")
        publisher.publish(jobID: "j", event: "delivered", body: [])
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { events.count == 1 })
        XCTAssertEqual(events.all, ["job.j.delivered"])
    }

    func testJobConsumerReconnectsDropsTheStaleAckAndTheJobIsRedelivered() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let setup = try AMQPConnection(url: try TestBroker.url())
        defer { setup.close() }
        try setup.enablePublisherConfirms()
        try setup.publish(exchange: topology.jobExchange, routingKey: topology.jobRoutingKey, body: "job".bytes, mandatory: true)

        let proxy = try makeProxy()
        defer { proxy.stop() }
        let logs = Collected<String>()
        let runs = Collected<String>()
        let consumer = JobConsumer(url: try proxiedURL(proxy), queue: topology.jobQueue, log: { logs.append($0) }) { delivery in
            runs.append(delivery.redelivered ? "redelivered" : "first")
            if !delivery.redelivered { Thread.sleep(forTimeInterval: 1.5) }
            return .ack
        }
        consumer.start()
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { runs.count == 1 })
        proxy.cutConnections()  // the worker's connection dies mid-job

        XCTAssertTrue(TestBroker.eventually(timeout: 10) { runs.count == 2 && consumer.activeJobCount == 0 })
        XCTAssertEqual(runs.all, ["first", "redelivered"])
        XCTAssertEqual(consumer.connectionCount, 2)
        XCTAssertTrue(logs.all.contains { $0.contains("connection was lost") }, "\(logs.all)")
        consumer.stop()
        XCTAssertEqual(try setup.purgeQueue(topology.jobQueue), 0, "the redelivery was acked")
    }
}
