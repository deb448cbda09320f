import Foundation
import KGClient
import XCTest

/// Issue 14, finding 4: the unauthenticated `/metrics` reads the jobs table at most
/// once per `metrics_cache_s`, so a scrape storm costs the database nothing. The reads
/// are counted by PostgreSQL itself (`log_statement = all` for the test's database).
final class MetricsCacheTests: XCTestCase {
    var stack: TestStack!
    static let cacheSeconds = 2.0

    override func setUpWithError() throws {
        // No janitor sweep (it reads the jobs table too) during the test.
        stack = try TestStack(workers: 0, environment: ["KG_METRICS_CACHE": String(Self.cacheSeconds), "KG_JANITOR_INTERVAL": "3600"])
    }

    override func tearDown() {
        stack?.stop()
    }

    /// The jobs-table read of `/metrics` (``JobStatistics/read``), as PostgreSQL logs it.
    static let readSignature = "width_bucket(-d.seconds"

    /// Reads of the jobs table by `/metrics` that PostgreSQL logged since `statements` began.
    func reads(_ statements: StatementLog) throws -> Int {
        let log = statements.text(waitingFor: try statements.mark(stack))
        return log.components(separatedBy: Self.readSignature).count - 1
    }

    func testScrapeStormReadsTheJobsTableOncePerCachePeriod() throws {
        _ = try stack.insertJob(user: "admin", status: "completed", type: "backup")
        let api = stack.apiURL
        let statements = try stack.logStatements()
        // The first scrape reads (and the count sees it: the test counts the right thing).
        _ = try HTTPClient(baseURL: api, token: nil).request(method: "GET", path: "/metrics")
        let before = try reads(statements)
        XCTAssertEqual(before, 1, "the first scrape reads the jobs table once")

        let scrapes = 400
        let statuses = ConcurrentResults()
        let start = Date()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<(scrapes / 8) {
                statuses.append((try? HTTPClient(baseURL: api, token: nil).request(method: "GET", path: "/metrics").status) ?? -1)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        let scans = try reads(statements) - before
        XCTAssertEqual(statuses.values.filter { $0 == 200 }.count, scrapes)
        // One read per cache period at most, plus one at each edge.
        let allowed = Int((seconds / Self.cacheSeconds).rounded(.up)) + 1
        print(
            "MetricsCacheTests: \(scrapes) scrapes in \(String(format: "%.1f", seconds)) s read the jobs table \(scans) time(s) (metrics_cache_s = \(Self.cacheSeconds); allowed \(allowed))"
        )
        XCTAssertLessThanOrEqual(scans, allowed, "\(scrapes) scrapes read the jobs table \(scans) times")
        let scrape = try stack.scrapeMetrics()
        XCTAssertLessThanOrEqual(scrape.value("kg_metrics_job_table_reads_total"), Double(allowed + 2))

        // The cache ages out: a new job shows after metrics_cache_s.
        XCTAssertEqual(scrape.value("kg_jobs", ["job_type": "backup", "status": "completed"]), 1)
        _ = try stack.insertJob(user: "admin", status: "completed", type: "backup")
        usleep(UInt32((Self.cacheSeconds + 0.2) * 1_000_000))
        XCTAssertEqual(try stack.scrapeMetrics().value("kg_jobs", ["job_type": "backup", "status": "completed"]), 2)
    }
}
