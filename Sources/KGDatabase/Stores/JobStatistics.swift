/// What the jobs table says about all jobs, read at scrape time so that every
/// gateway replica reports the same truth (workers have no HTTP server; the
/// table is where their work shows).
///
/// ```swift
/// let stats = try JobStatistics.read(db, durationBuckets: [1, 10, 60])
/// ```
public struct JobStatistics: Sendable, Equatable {
    /// Jobs by type and status.
    public var counts: [Key: Int] = [:]
    /// Durations (`completed_at - started_at`) of finished jobs that ran, by type and status.
    public var durations: [Key: Histogram] = [:]
    /// Restores that ran and ended failed or cancelled: each one's transaction rolled back.
    public var restoreRollbacks: [String: Int] = [:]
    /// Attempts beyond the first (a worker died or hung and another took the job over).
    public var retriedAttempts: [String: Int] = [:]

    public struct Key: Hashable, Sendable, Comparable {
        public let jobType: String
        public let status: String

        public init(jobType: String, status: String) {
            self.jobType = jobType
            self.status = status
        }

        public static func < (a: Key, b: Key) -> Bool { (a.jobType, a.status) < (b.jobType, b.status) }
    }

    public struct Histogram: Sendable, Equatable {
        /// Upper bounds and the cumulative count of observations at or below each.
        public var buckets: [(le: Double, count: Int)]
        public var count: Int
        public var sum: Double

        public static func == (a: Histogram, b: Histogram) -> Bool {
            a.count == b.count && a.sum == b.sum && a.buckets.map(\.le) == b.buckets.map(\.le)
                && a.buckets.map(\.count) == b.buckets.map(\.count)
        }
    }

    public init() {}

    /// One aggregate query over `kg_api.jobs` (one scan; bucket bounds are a bound array parameter).
    ///
    /// Each finished job's duration `d` is grouped by how many bounds are `>= d`:
    /// `width_bucket(-d, negated bounds ascending)` counts the bounds `b` with `-b <= -d`.
    /// A job counts in bucket `le = b` exactly when `d <= b`, so the cumulative
    /// bucket counts follow by summing groups, and equality is counted as Prometheus wants.
    public static func read(_ db: PGConnection, durationBuckets: [Double]) throws -> JobStatistics {
        let bounds = durationBuckets.sorted()
        let negated = "{" + bounds.reversed().map { String(-$0) }.joined(separator: ",") + "}"
        let rows = try db.query(
            """
            SELECT job_type, status, at_or_above, count(*) AS n, coalesce(sum(seconds), 0) AS total,
                   count(*) FILTER (WHERE started_at IS NOT NULL) AS started,
                   coalesce(sum(greatest(attempts - 1, 0)), 0) AS retried
            FROM (
                SELECT job_type, status, attempts, started_at, d.seconds,
                       width_bucket(-d.seconds, $1::float8[]) AS at_or_above
                FROM kg_api.jobs,
                LATERAL (SELECT CASE WHEN status IN ('completed', 'failed', 'cancelled') AND started_at IS NOT NULL
                                          AND completed_at IS NOT NULL
                                     THEN extract(epoch FROM completed_at - started_at)::float8 END AS seconds) d
            ) jobs
            GROUP BY job_type, status, at_or_above
            """, [negated]
        ).namedRows
        var stats = JobStatistics()
        var finished: [Key: [Int: (n: Int, total: Double)]] = [:]
        for row in rows {
            let key = Key(jobType: row["job_type"] ?? "", status: row["status"] ?? "")
            let n = row.decode("n", as: Int.self) ?? 0
            stats.counts[key, default: 0] += n
            stats.retriedAttempts[key.jobType, default: 0] += row.decode("retried", as: Int.self) ?? 0
            if key.jobType == "restore", key.status == "failed" || key.status == "cancelled" {
                stats.restoreRollbacks[key.status, default: 0] += row.decode("started", as: Int.self) ?? 0
            }
            if let k = row.decode("at_or_above", as: Int.self) {
                finished[key, default: [:]][k] = (n, row.decode("total", as: Double.self) ?? 0)
            }
        }
        for (key, groups) in finished {
            let count = groups.values.reduce(0) { $0 + $1.n }
            let sum = groups.values.reduce(0) { $0 + $1.total }
            let buckets = bounds.enumerated().map { index, le in
                (le: le, count: groups.filter { $0.key >= bounds.count - index }.reduce(0) { $0 + $1.value.n })
            }
            stats.durations[key] = Histogram(buckets: buckets, count: count, sum: sum)
        }
        return stats
    }
}
