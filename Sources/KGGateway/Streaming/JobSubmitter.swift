import Foundation
import KGDatabase
import KGFormat

/// What every route that starts a job does: create the job row under the per-user
/// limit (429 beyond it), then publish the job; when the broker is away, the row
/// is failed with the reason (now, or by the janitor once the database is back:
/// ``JobFailureBacklog``) and the caller gets 503. Made once per gateway.
///
/// ```swift
/// try await jobs.submit(jobID: id, type: "prune", username: user.username, params: params, tempFile: nil)
/// ```
struct JobSubmitter: Sendable {
    let pool: PGPool
    let queue: JobQueue
    /// Queued + running jobs one user may have (0: no limit).
    let maxJobsPerUser: Int
    let backlog: JobFailureBacklog

    /// Refuses (429) when `username` already has `maxJobsPerUser` queued or running jobs: the routes that
    /// receive a body call it before reading one; `submit` checks the count again, atomically, with the row.
    func refuseIfAtLimit(username: String) async throws {
        let limit = maxJobsPerUser
        guard limit > 0 else { return }
        let active = try await pool.run { db in try JobStore(db).activeJobIDs(username: username) }
        if active.count >= limit {
            throw APIError.tooManyJobs(JobLimitReached(username: username, limit: limit, activeJobIDs: active))
        }
    }

    /// `beforePublish` runs once the row exists (e.g. gives the upload the name the row
    /// owns); when it throws, the row is failed and nothing is published.
    func submit(
        jobID: String, type: String, username: String, params: some Encodable, tempFile: String?,
        beforePublish: (() async throws -> Void)? = nil
    ) async throws {
        let paramsJSON = String(decoding: try JSONEncoder().encode(params), as: UTF8.self)
        let limit = maxJobsPerUser
        do {
            try await pool.run { db in
                try JobStore(db).create(
                    jobID: jobID, type: type, username: username, params: paramsJSON,
                    tempFile: tempFile, maxActivePerUser: limit)
            }
        } catch let reached as JobLimitReached {
            throw APIError.tooManyJobs(reached)
        }
        if let beforePublish {
            do {
                try await beforePublish()
            } catch {
                await backlog.fail(jobID: jobID, error: "the gateway could not store the upload: \(error)", pool: pool)
                throw error
            }
        }
        do {
            try await queue.publish(JobMessage(jobID: jobID, jobType: type))
        } catch {
            await backlog.fail(jobID: jobID, error: "the job queue is unavailable: \(error)", pool: pool)
            if let noMajority = error as? NoBrokerMajority {
                throw APIError.unavailable(
                    "the job queue is unavailable: \(noMajority); nothing was changed — try again then",
                    detail: noMajority.view.summary)
            }
            throw APIError.unavailable("the job queue is unavailable; nothing was changed — try again shortly", detail: "\(error)")
        }
    }
}
