import Foundation
import KGDatabase
import XCTest

/// The jobs-table figures behind `/metrics`, against rows with known durations,
/// including durations exactly on a bucket bound (Prometheus buckets are `<=`).
final class JobStatisticsTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func testCountsHistogramRollbacksAndRetries() throws {
        stack = try TestStack(workers: 0)
        let db = try stack.db()
        defer { db.close() }
        // (type, status, seconds run or nil when it never started, attempts)
        let rows: [(String, String, Double?, Int)] = [
            ("backup", "completed", 0.5, 1), ("backup", "completed", 1.0, 1), ("backup", "completed", 1.0001, 1),
            ("backup", "completed", 4000, 1), ("backup", "running", nil, 1), ("backup", "queued", nil, 0),
            ("restore", "failed", 2, 3), ("restore", "failed", nil, 0), ("restore", "cancelled", 0.1, 1),
            ("restore", "completed", 60, 2),
        ]
        for (type, status, seconds, attempts) in rows {
            try db.query(
                """
                INSERT INTO kg_api.jobs (job_id, job_type, status, username, attempts, started_at, completed_at)
                VALUES (gen_random_uuid(), $1, $2, 'admin', $3::int,
                        CASE WHEN $4::float8 IS NULL AND $2 <> 'running' THEN NULL ELSE now() END,
                        CASE WHEN $4::float8 IS NULL THEN NULL ELSE now() + $4::float8 * interval '1 second' END)
                """, [type, status, String(attempts), seconds.map { String($0) }])
        }
        let stats = try JobStatistics.read(db, durationBuckets: [0.5, 1, 60])
        XCTAssertEqual(stats.counts[.init(jobType: "backup", status: "completed")], 4)
        XCTAssertEqual(stats.counts[.init(jobType: "backup", status: "running")], 1)
        XCTAssertEqual(stats.counts[.init(jobType: "restore", status: "failed")], 2)

        let backups = try XCTUnwrap(stats.durations[.init(jobType: "backup", status: "completed")])
        XCTAssertEqual(backups.buckets.map(\.le), [0.5, 1, 60])
        XCTAssertEqual(backups.buckets.map(\.count), [1, 2, 3], "0.5 ≤ 0.5; 1.0 ≤ 1; 1.0001 ≤ 60; 4000 only in +Inf")
        XCTAssertEqual(backups.count, 4)
        XCTAssertEqual(backups.sum, 0.5 + 1 + 1.0001 + 4000, accuracy: 0.001)
        XCTAssertNil(stats.durations[.init(jobType: "backup", status: "running")], "unfinished jobs have no duration")
        XCTAssertEqual(stats.durations[.init(jobType: "restore", status: "failed")]?.count, 1, "the one that never ran has none")

        XCTAssertEqual(stats.restoreRollbacks["failed"], 1, "a failed restore that never started rolled nothing back")
        XCTAssertEqual(stats.restoreRollbacks["cancelled"], 1)
        XCTAssertEqual(stats.retriedAttempts["restore"], 3, "2 extra attempts + 1")
        XCTAssertEqual(stats.retriedAttempts["backup"] ?? 0, 0)
    }
}
