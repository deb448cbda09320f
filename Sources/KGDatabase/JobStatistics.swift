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

    /// Three aggregate queries over `kg_api.jobs` (bucket bounds are a bound array parameter).
    public static func read(_ db: PGConnection, durationBuckets: [Double]) throws -> JobStatistics {
        var stats = JobStatistics()
        for row in try db.query("""
            SELECT job_type, status, count(*) AS n,
                   count(*) FILTER (WHERE job_type = 'restore' AND status IN ('failed', 'cancelled')
                                    AND started_at IS NOT NULL) AS rollbacks,
                   coalesce(sum(greatest(attempts - 1, 0)), 0) AS retried
            FROM kg_api.jobs GROUP BY job_type, status
            """).records {
            let key = Key(jobType: (row["job_type"] ?? nil) ?? "", status: (row["status"] ?? nil) ?? "")
            stats.counts[key] = Int((row["n"] ?? nil) ?? "0") ?? 0
            if let n = Int((row["rollbacks"] ?? nil) ?? "0"), n > 0 { stats.restoreRollbacks[key.status, default: 0] += n }
            stats.retriedAttempts[key.jobType, default: 0] += Int((row["retried"] ?? nil) ?? "0") ?? 0
        }
        let bounds = "{" + durationBuckets.map { String($0) }.joined(separator: ",") + "}"
        let rows = try db.query("""
            WITH finished AS (
                SELECT job_type, status, extract(epoch FROM completed_at - started_at)::float8 AS seconds
                FROM kg_api.jobs
                WHERE status IN ('completed', 'failed', 'cancelled') AND started_at IS NOT NULL AND completed_at IS NOT NULL
            )
            SELECT f.job_type, f.status, b.le, count(*) FILTER (WHERE f.seconds <= b.le) AS at_or_below,
                   count(*) AS n, sum(f.seconds) AS total
            FROM finished f CROSS JOIN unnest($1::float8[]) AS b(le)
            GROUP BY f.job_type, f.status, b.le ORDER BY f.job_type, f.status, b.le
            """, [bounds]).records
        for row in rows {
            let key = Key(jobType: (row["job_type"] ?? nil) ?? "", status: (row["status"] ?? nil) ?? "")
            let le = Double((row["le"] ?? nil) ?? "0") ?? 0
            let below = Int((row["at_or_below"] ?? nil) ?? "0") ?? 0
            var histogram = stats.durations[key] ?? Histogram(buckets: [], count: 0, sum: 0)
            histogram.buckets.append((le, below))
            histogram.count = Int((row["n"] ?? nil) ?? "0") ?? 0
            histogram.sum = Double((row["total"] ?? nil) ?? "0") ?? 0
            stats.durations[key] = histogram
        }
        return stats
    }
}
