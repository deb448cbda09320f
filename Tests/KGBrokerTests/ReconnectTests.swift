import KGTestSupport
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

    /// A worker whose connection drops mid-job (issue 11, finding 4) takes no new
    /// delivery on its new connection until that job ends: otherwise a delivery waits
    /// behind the running job while another worker sits idle. Before: after the
    /// reconnect the consumer subscribed at once and one of these jobs was parked.
    func testAConsumerThatReconnectsMidJobTakesNoDeliveryUntilTheJobEnds() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let proxy = try makeProxy()
        defer { proxy.stop() }
        let release = DispatchSemaphore(value: 0)
        let busy = Collected<String>()
        let logs = Collected<String>()
        let first = JobConsumer(
            url: try proxiedURL(proxy), queue: topology.jobQueue, heartbeatSeconds: 0,
            backoff: Backoff(initial: 0.1, maximum: 0.2), prepare: { try topology.declare(on: $0) },
            log: { logs.append($0) }
        ) { delivery in
            busy.append(String(decoding: delivery.body, as: UTF8.self))
            release.wait()  // the long job
            return .ack
        }
        first.start()
        defer { first.stop(drainTimeout: 1) }
        XCTAssertTrue(first.waitUntilConnected(timeout: 5))
        let publisher = try AMQPConnection(url: try TestBroker.url())
        defer { publisher.close() }
        try publisher.enablePublisherConfirms()
        func publish(_ body: String) throws {
            try publisher.publish(
                exchange: topology.jobExchange, routingKey: topology.jobRoutingKey, body: Array(body.utf8),
                mandatory: true, messageId: body)
        }
        try publish("long")
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { busy.count == 1 }, "the long job runs")

        proxy.cutConnections()
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { first.connectionCount == 2 && first.isConnected }, "\(logs.all)")
        // Another worker, idle; the long job's message went back to the queue with the cut.
        let handled = Collected<String>()
        let second = JobConsumer(url: try TestBroker.url(), queue: topology.jobQueue) { delivery in
            handled.append(String(decoding: delivery.body, as: UTF8.self))
            return .ack
        }
        second.start()
        defer { second.stop() }
        XCTAssertTrue(second.waitUntilConnected(timeout: 5))
        for index in 1...4 { try publish("short-\(index)") }
        XCTAssertTrue(
            TestBroker.eventually(timeout: 10) { handled.all.filter { $0.hasPrefix("short") }.count == 4 },
            "every short job ran on the idle worker while the first still ran its long one: \(handled.all)")
        XCTAssertEqual(busy.all, ["long"], "the busy worker took nothing while its job ran")
        XCTAssertTrue(handled.all.contains("long"), "the long job's message was redelivered to the idle worker")
        release.signal()
        XCTAssertTrue(TestBroker.eventually(timeout: 5) { first.activeJobCount == 0 })
        XCTAssertTrue(
            TestBroker.eventually(timeout: 5) { logs.all.contains { $0.contains("consuming") && $0.contains("again") } },
            "it consumes again once its job has ended: \(logs.all)")
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
