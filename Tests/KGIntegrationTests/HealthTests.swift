import Foundation
import KGClient
import XCTest

/// `/healthz` says only that the process is alive; `/readyz` fails while the
/// database is unreachable (the broker case is in FaultTests). Runs on a
/// PostgreSQL of its own, so stopping it disturbs nothing else.
final class HealthTests: XCTestCase {
    var services: PrivateServices?
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
        services?.stop()
    }

    func testReadyzFailsWhileTheDatabaseIsDownAndHealthzStaysUp() throws {
        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(workers: 1, services: services)
        let client = HTTPClient(baseURL: stack.apiURL, token: nil, connectTimeout: 2, requestTimeout: 10)
        XCTAssertEqual(try client.request(method: "GET", path: "/readyz").status, 200)
        XCTAssertEqual(try client.request(method: "GET", path: "/healthz").status, 200)

        try services.run("postgres-stop")
        var body = ""
        try stack.waitUntil(20, "/readyz to say not ready") {
            let r = try client.request(method: "GET", path: "/readyz")
            body = String(decoding: r.body, as: UTF8.self)
            return r.status == 503
        }
        XCTAssertTrue(body.contains("\"database\":false"), body)
        XCTAssertTrue(body.contains("\"broker\":true"), body)
        let health = try client.request(method: "GET", path: "/healthz")
        XCTAssertEqual(health.status, 200, "the process is alive: \(String(decoding: health.body, as: UTF8.self))")
        // /metrics still answers, and says which dependency is down.
        let scrape = try stack.scrapeMetrics()
        XCTAssertEqual(scrape.problems, [])
        XCTAssertEqual(scrape.value("kg_dependency_up", ["dependency": "database"]), 0)
        XCTAssertEqual(scrape.value("kg_dependency_up", ["dependency": "broker"]), 1)

        try services.run("postgres-start")
        try stack.waitUntil(60, "/readyz to say ready again") { try client.request(method: "GET", path: "/readyz").status == 200 }
        XCTAssertEqual(try stack.scrapeMetrics().value("kg_dependency_up", ["dependency": "database"]), 1)
    }

    func testMetricsSayWhenTheBrokerIsDownAndRecover() throws {
        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(workers: 1, services: services)
        let queue = "\(stack.prefix).jobs.work"
        XCTAssertEqual(try stack.scrapeMetrics().value("kg_queue_consumers", ["queue": queue]), 1)

        try services.run("rabbitmq-stop")
        var down: PrometheusScrape?
        try stack.waitUntil(30, "the metrics to say the broker is down") {
            down = try self.stack.scrapeMetrics()
            return down?.value("kg_dependency_up", ["dependency": "broker"]) == 0
        }
        let scrape = try XCTUnwrap(down)
        XCTAssertEqual(scrape.problems, [], scrape.text)
        XCTAssertNil(scrape.types["kg_queue_messages"], "no made-up queue depth while the broker is away")
        XCTAssertEqual(scrape.value("kg_dependency_up", ["dependency": "database"]), 1)
        XCTAssertNotNil(scrape.types["kg_jobs"], "the job figures come from the database and stay")

        // The probe reconnects by itself; the worker's consumer comes back too.
        try services.run("rabbitmq-start")
        try stack.waitUntil(90, "the queue figures to come back") {
            let now = try self.stack.scrapeMetrics()
            return now.value("kg_dependency_up", ["dependency": "broker"]) == 1 && now.value("kg_queue_consumers", ["queue": queue]) == 1
        }
    }
}
