import Foundation
import KGBroker
import KGTestSupport
import XCTest

final class StatusTests: XCTestCase {
    func testPublisherToSubscribersWithPatternFilter() throws {
        let topology = try TestBroker.topology()
        defer { TestBroker.cleanUp(topology) }
        let url = try TestBroker.url()
        let everything = Collected<String>()
        let doneOnly = Collected<String>()
        let all = StatusSubscriber(url: url, exchange: topology.statusExchange) { key, body in
            everything.append("\(key)=\(String(decoding: body, as: UTF8.self))")
        }
        let done = StatusSubscriber(url: url, exchange: topology.statusExchange, bindingKeys: ["job.*.done"]) { key, _ in
            doneOnly.append(key)
        }
        all.start()
        done.start()
        XCTAssertTrue(all.waitUntilConnected(timeout: 5))
        XCTAssertTrue(done.waitUntilConnected(timeout: 5))

        let publisher = StatusPublisher(url: url, exchange: topology.statusExchange)
        defer { publisher.shutdown() }
        publisher.publish(jobID: "j1", event: "progress", body: Array("10".utf8))
        publisher.publish(jobID: "j1", event: "done", body: Array("ok".utf8))
        publisher.publish(jobID: "j2", event: "done", body: Array("failed".utf8))

        XCTAssertTrue(TestBroker.eventually(timeout: 5) { everything.count == 3 && doneOnly.count == 2 })
        XCTAssertEqual(everything.all, ["job.j1.progress=10", "job.j1.done=ok", "job.j2.done=failed"])
        XCTAssertEqual(doneOnly.all, ["job.j1.done", "job.j2.done"])
        XCTAssertTrue(publisher.isConnected)

        let stopping = Date()
        all.stop()
        done.stop()
        XCTAssertLessThan(Date().timeIntervalSince(stopping), 1.5, "stop() joins within about a second")
        XCTAssertFalse(all.isConnected)
    }

    func testStatusPublisherNeverBlocksWhenTheBrokerIsDown() async throws {
        var url = try TestBroker.url()
        url.port = freePort()
        let logs = Collected<String>()
        let publisher = StatusPublisher(url: url, exchange: "kg.status", log: { logs.append($0) })
        defer { publisher.shutdown() }
        let started = Date()
        for i in 0..<200 {
            publisher.publish(jobID: "j", event: "progress", body: Array("\(i)".utf8))
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.1, "publish only queues")
        await publisher.flush()
        XCTAssertFalse(publisher.isConnected)
        XCTAssertTrue(logs.all.contains { $0.contains("dropped") }, "\(logs.all)")
    }

    func testSubscriberStopsQuicklyWhileTheBrokerIsDown() throws {
        var url = try TestBroker.url()
        url.port = freePort()
        let subscriber = StatusSubscriber(url: url, exchange: "kg.status") { _, _ in }
        subscriber.start()
        XCTAssertFalse(subscriber.waitUntilConnected(timeout: 0.5))
        let stopping = Date()
        subscriber.stop()
        XCTAssertLessThan(Date().timeIntervalSince(stopping), 1.5)
    }
}
