import KGDatabase
import Logging

/// Job rows that must be failed but could not be at the moment, because the
/// database was away too (the broker refused the job's message, then the update
/// that records it failed). Without this, such a row would stay `queued` for
/// ever: never run (its message does not exist), counting against its user's
/// `max_jobs_per_user`, its restore upload kept in temp storage.
///
/// The gateway that answered 503 keeps the job here and its ``TempJanitor``
/// retries on every sweep until the database takes the update. Only a job that
/// is still `queued` is failed: if the message did reach a worker after all (a
/// confirm lost in transit), the job runs and is left alone. What is lost is
/// the double fault of this gateway dying too before the database returns.
actor JobFailureBacklog {
    private var pending: [String: String] = [:]  // job id → error
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    /// Records the job as failed, now if the database answers, else later.
    func fail(jobID: String, error: String, pool: PGPool) async {
        do {
            _ = try await pool.run { db in try JobStore(db).failQueued(jobID: jobID, error: error) }
        } catch let problem {
            pending[jobID] = error
            logger.warning(
                "could not record a job as failed (the database is away too); the janitor retries",
                metadata: ["job_id": "\(jobID)", "problem": "\(problem)"])
        }
    }

    /// One retry of every pending update; what the database does not take waits for the next sweep.
    func retry(pool: PGPool) async {
        for (jobID, error) in pending {
            do {
                let failed = try await pool.run { db in try JobStore(db).failQueued(jobID: jobID, error: error) }
                pending[jobID] = nil
                logger.notice(
                    failed ? "recorded a job as failed now that the database is back" : "a job left pending had already moved on",
                    metadata: ["job_id": "\(jobID)"])
            } catch {
                return  // still away: the next sweep tries again
            }
        }
    }
}
