/// A user already has as many queued or running jobs as `max_jobs_per_user` allows.
public struct JobLimitReached: Error, CustomStringConvertible, Sendable {
    public let username: String
    public let limit: Int
    /// The user's queued and running jobs, oldest first.
    public let activeJobIDs: [String]

    public init(username: String, limit: Int, activeJobIDs: [String]) {
        self.username = username
        self.limit = limit
        self.activeJobIDs = activeJobIDs
    }

    public var description: String {
        "\(username) already has \(activeJobIDs.count) queued or running jobs (max_jobs_per_user = \(limit))"
    }
}

extension JobStore {
    /// The ids of `username`'s queued and running jobs, oldest first.
    public func activeJobIDs(username: String) throws -> [String] {
        try db.query(
            """
            SELECT job_id::text FROM kg_api.jobs
            WHERE username = $1 AND status IN ('queued', 'running') ORDER BY created_at
            """, [username]
        ).rows.compactMap { $0[0] }
    }

    /// Creates a job unless `username` already has `maxActive` queued or running
    /// jobs (then throws ``JobLimitReached``). Count and insert run under a
    /// per-user transaction-level advisory lock, so two concurrent requests
    /// cannot both slip past the limit. `maxActive` of 0 or less means no limit.
    public func create(
        jobID: String, type: String, username: String, params: String, tempFile: String?,
        maxActivePerUser maxActive: Int
    ) throws {
        guard maxActive > 0 else {
            try create(jobID: jobID, type: type, username: username, params: params, tempFile: tempFile)
            return
        }
        try db.transaction {
            try db.query("SELECT pg_advisory_xact_lock(hashtextextended('kg-jobs-per-user:' || $1, 0))", [username])
            let active = try activeJobIDs(username: username)
            guard active.count < maxActive else {
                throw JobLimitReached(username: username, limit: maxActive, activeJobIDs: active)
            }
            try create(jobID: jobID, type: type, username: username, params: params, tempFile: tempFile)
        }
    }
}
