import KGBroker
import XCTest

final class AMQPURLTests: XCTestCase {
    func testFullURL() throws {
        let url = try AMQPURL("amqp://kg:secret@rabbit.example:5673/jobs")
        XCTAssertEqual(url, AMQPURL(user: "kg", password: "secret", host: "rabbit.example", port: 5673, vhost: "jobs"))
    }

    func testDefaults() throws {
        let url = try AMQPURL("amqp://rabbit")
        XCTAssertEqual(url.user, "guest")
        XCTAssertEqual(url.password, "guest")
        XCTAssertEqual(url.port, 5672)
        XCTAssertEqual(url.vhost, "/")
        XCTAssertEqual(try AMQPURL("amqp://u:p@h/").vhost, "/")
        XCTAssertEqual(try AMQPURL("amqp://u:p@h:1").port, 1)
    }

    func testPercentDecoding() throws {
        let url = try AMQPURL("amqp://k%67:p%40ss%3Aw%2Frd@127.0.0.1:55672/%2f")
        XCTAssertEqual(url.user, "kg")
        XCTAssertEqual(url.password, "p@ss:w/rd")
        XCTAssertEqual(url.vhost, "/")
        XCTAssertEqual(try AMQPURL("amqp://h/%2Fprod").vhost, "/prod")
        XCTAssertEqual(try AMQPURL("amqp://h/kg%20test").vhost, "kg test")
    }

    func testIPv6AndQuery() throws {
        let url = try AMQPURL("amqp://u:p@[::1]:5673/v?heartbeat=10")
        XCTAssertEqual(url.host, "::1")
        XCTAssertEqual(url.port, 5673)
        XCTAssertEqual(url.vhost, "v")
        XCTAssertEqual(url.description, "amqp://u:***@[::1]:5673/v")
    }

    func testDescriptionHidesPassword() throws {
        let url = try AMQPURL("amqp://guest:topsecret@127.0.0.1:55672/%2f")
        XCTAssertEqual(url.description, "amqp://guest:***@127.0.0.1:55672/%2F")
        XCTAssertFalse("\(url)".contains("topsecret"))
        let error = BrokerError.unreachable(url.description, "connection refused")
        XCTAssertFalse(error.description.contains("topsecret"))
    }

    func testInvalidURLs() {
        for bad in ["http://h", "amqp://", "amqp://h:notaport", "amqp://h:70000", "amqp://h/a/b", "amqp://h/%zz", "amqps://h"] {
            XCTAssertThrowsError(try AMQPURL(bad), bad) { error in
                guard case BrokerError.invalidURL = error else { return XCTFail("\(bad): \(error)") }
            }
        }
    }

    func testInvalidURLMessageHidesPassword() {
        XCTAssertThrowsError(try AMQPURL("http://u:topsecret@h")) { error in
            XCTAssertFalse("\(error)".contains("topsecret"), "\(error)")
        }
    }

    func testBackoffIsCappedAndResets() {
        var backoff = Backoff(initial: 0.1, maximum: 0.5)
        XCTAssertEqual((0..<5).map { _ in backoff.next() }, [0.1, 0.2, 0.4, 0.5, 0.5])
        backoff.reset()
        XCTAssertEqual(backoff.next(), 0.1)
    }

    func testTopologyNamesFollowThePrefix() {
        let t = JobTopology(prefix: "x")
        XCTAssertEqual(
            [t.jobExchange, t.jobQueue, t.deadLetterExchange, t.deadLetterQueue, t.statusExchange],
            ["x.jobs", "x.jobs.work", "x.jobs.dlx", "x.jobs.dead", "x.status"])
        XCTAssertEqual(t.jobQueueArguments["x-dead-letter-exchange"], "x.jobs.dlx")
        XCTAssertNil(t.jobQueueArguments["x-queue-type"])
        XCTAssertEqual(JobTopology(prefix: "x", queueType: "quorum").jobQueueArguments["x-queue-type"], "quorum")
        XCTAssertEqual(StatusPublisher.routingKey(jobID: "42", event: "done"), "job.42.done")
    }
}
