import Foundation
import KGDatabase

/// What `/metrics` reads from the jobs table (``JobStatistics``), reused for
/// `metrics_cache_s` seconds, and read by one scrape at a time: concurrent scrapes
/// of a stale cache wait for the same read. A storm of unauthenticated scrapes
/// therefore costs at most one jobs-table read per `metrics_cache_s` (issue 14,
/// finding 4). A failed read is not cached: the next scrape tries again.
actor JobStatisticsCache {
    private let pool: PGPool
    private let maxAge: Double
    private let buckets: [Double]
    private var sample: (at: Date, stats: JobStatistics)?
    private var inFlight: Task<JobStatistics?, Never>?
    /// Reads of the jobs table made so far (for tests and the `/metrics` counter).
    private(set) var reads = 0

    init(pool: PGPool, maxAge: Double, durationBuckets: [Double]) {
        self.pool = pool
        self.maxAge = maxAge
        self.buckets = durationBuckets
    }

    /// The statistics, or nil when the database cannot be read.
    func statistics() async -> JobStatistics? {
        if let sample, maxAge > 0, Date().timeIntervalSince(sample.at) < maxAge { return sample.stats }
        if let inFlight { return await inFlight.value }
        reads += 1
        let pool = self.pool, buckets = self.buckets
        let task = Task { try? await pool.run { db in try JobStatistics.read(db, durationBuckets: buckets) } }
        inFlight = task
        let stats = await task.value
        inFlight = nil
        if let stats { sample = (Date(), stats) }
        return stats
    }
}
