import Foundation
import KGDatabase
import KGFormat

/// Decides a job's outcome once, at its commit: the job row becomes `completed`
/// (with its result) inside the same transaction that changes the graph, so the
/// two are one fact. No later cancel, crash or lost status message can relabel
/// it, and a worker that loses its connection during COMMIT need not guess: the
/// row, read by the redelivery, says whether the commit happened.
///
/// A cancel that reaches the row first wins (the transaction is rolled back and
/// nothing was changed); a cancel that comes after finds the row `completed` and
/// is refused ("already committed; nothing was undone"). A cancel sent while the
/// commit runs waits for the row lock and then sees the outcome.
///
/// Between ``commit(_:resultJSON:)``'s row update and COMMIT nothing may take the
/// ``JobContext`` lock: the heartbeat thread's row update waits for this
/// transaction while it holds that lock.
struct JobCommit {
    let jobID: String
    let workerID: String?

    /// Marks the job completed inside the open transaction on `db` and commits it.
    /// Throws a ``JobFailure`` (cancelled or taken over, after a ROLLBACK) when the row was cancelled or taken
    /// over in the meantime: then nothing was changed.
    func commit(_ db: PGConnection, resultJSON: String) throws {
        let final = JobContext.encode(JobProgress(stage: JobStage.completed.rawValue, percent: 100, message: "done"))
        let store = JobStore(db)
        if try store.complete(jobID: jobID, resultJSON: resultJSON, progressJSON: final, workerID: workerID) {
            try db.execute("COMMIT")
            return
        }
        let state = try? store.state(jobID: jobID)
        if db.isOK { _ = try? db.execute("ROLLBACK") }
        if let state, state.status == "cancelled" {
            throw JobFailure(.cancelled, "\(state.error ?? "cancelled") before the commit: rolled back, nothing was changed")
        }
        throw JobFailure(.takenOver, "another worker took this job over before the commit; this attempt was rolled back")
    }

    /// Marks a job that changed nothing (a backup, a dry run) completed, outside any transaction.
    /// False when the row had ended already (cancelled) or another worker holds it.
    func complete(_ control: PGConnection, resultJSON: String) throws -> Bool {
        let final = JobContext.encode(JobProgress(stage: JobStage.completed.rawValue, percent: 100, message: "done"))
        return try JobStore(control).complete(jobID: jobID, resultJSON: resultJSON, progressJSON: final, workerID: workerID)
    }
}
