import Foundation
import KGDatabase
import KGFormat
import KGService

/// The checkpoint pattern around one risky job (a merge restore, prune,
/// stitch, ontology delete; replace restores pass through it without a
/// checkpoint), run by the worker that holds the job:
///
/// 0. the graph lock (``GraphLock``, session level, on the data connection) for
///    the whole job: a second risky job waits and says for what, or fails at
///    once with `no_wait`;
/// 1. the checkpoint: a full backup of the graph by the backup writer into temp
///    storage (`.checkpoint_<job>_<YYYYMMDD_HHMMSS>.json`, fsynced), when the
///    operation asks for one (its `makeCheckpoint` closure, called at its
///    `creating_checkpoint` stage); kg's files carry every graph row;
/// 2. the operation, in **one transaction** that the body opens and leaves open;
/// 3. the integrity of the graph (``GraphIntegritySQL``), inside that transaction;
/// 4. the commit, which marks the job row `completed` in the same transaction
///    (``JobCommit``): the outcome is decided once. The checkpoint is deleted
///    (or kept on request) in that transaction too.
///
/// Failure of any kind before the commit — an error, an integrity finding, a
/// cancel, a kill -9, the database going away — is a ROLLBACK: nothing else
/// needs undoing, so no checkpoint is ever restored automatically and no
/// rollback can cross another job's commit. The checkpoint of a failed job is
/// kept for inspection (retention keeps the newest N) and the job fails with
/// "rolled back to checkpoint <id>"; `kg admin checkpoints restore <id>` puts a
/// kept checkpoint back on purpose, as a risky job of its own.
struct RiskyOperation {
    let context: JobContext
    let storage: TempStorage
    /// The job's data connection: the lock, the checkpoint's snapshot and the operation share it.
    let db: PGConnection
    let job: JobState
    /// The job's type and plan: where its `creating_checkpoint` stage sits in its percent, and its
    /// last stage, after which the test hook may inject a failure.
    let type: JobType
    let retention: Int
    let checkpoint: Bool
    let keepCheckpoint: Bool
    let noWait: Bool
    /// Marks the job completed inside the operation's transaction.
    let commit: JobCommit
    /// A kept checkpoint the operation reads (`kg admin checkpoints restore`): retention never removes it meanwhile.
    var readsCheckpoint: String? = nil

    /// How the job ended when nothing failed.
    struct Finished {
        /// The job's result, as stored in its row.
        let resultJSON: String
        /// True when the job row was marked `completed` in the operation's transaction;
        /// false for an operation that opened none (a dry run): the caller completes the row.
        let committed: Bool
    }

    /// The checkpoint made by this run.
    private final class Made {
        var path: String?
    }

    /// Runs `body`, which opens a transaction on `db` and leaves it open (or opens
    /// none: a dry run); checks, marks the job completed with `encode`'s result and commits.
    func run<R>(
        encode: (R, CheckpointOutcome) -> String,
        _ body: (_ makeCheckpoint: (() throws -> Void)?) throws -> R
    ) throws -> Finished {
        try acquireLock()
        defer { _ = try? GraphLock(db).release() }
        discardEarlierAttempt()

        let made = Made()
        do {
            let result = try body(checkpoint ? { made.path = try writeCheckpoint() } : nil)
            guard db.inTransaction else {
                // Nothing to commit (a dry run): a checkpoint made for it is not needed.
                if let path = made.path { discard(path) }
                return Finished(resultJSON: encode(result, .none), committed: false)
            }
            try context.passed(stage: type.plan.lastStage)
            try checkIntegrity()
            var outcome = CheckpointOutcome.none
            if made.path != nil {
                if keepCheckpoint {
                    try CheckpointStore(db).keep(checkpointID: job.jobID, reason: "kept on request (--keep-checkpoint)")
                    outcome = .kept(id: job.jobID)
                } else {
                    try CheckpointStore(db).delete(checkpointID: job.jobID)
                    outcome = .deleted(id: job.jobID)
                }
            }
            let resultJSON = encode(result, outcome)
            // Nothing between here and COMMIT takes the context's lock (see JobCommit).
            try commit.commit(db, resultJSON: resultJSON)
            // Committed: nothing from here on may fail the job.
            if case .deleted = outcome, let path = made.path { storage.remove(path) }
            if case .kept = outcome { enforceRetention() }
            return Finished(resultJSON: resultJSON, committed: true)
        } catch {
            if db.isOK && db.inTransaction { _ = try? db.execute("ROLLBACK") }
            if let ended = error as? UploadNotAccepted {
                // A pipelined restore stopped before its upload was accepted: the graph was never
                // touched, so its checkpoint shows nothing worth keeping.
                if let path = made.path { discard(path) }
                throw ended.failure
            }
            guard let path = made.path else { throw error }
            if let pgError = error as? PGError, pgError.isConnectionFailure {
                // The database went away: the job is handed back (its row says whether the
                // commit happened); the next attempt makes a new checkpoint.
                throw error
            }
            throw failed(error, keeping: path)
        }
    }

    // MARK: The lock

    /// Takes the graph lock, waiting (with the holder in the job's message) or failing at once with `no_wait`.
    private func acquireLock() throws {
        let lock = GraphLock(db)
        var lastMessage = ""
        var lastReport = Date.distantPast
        while !(try lock.tryAcquire()) {
            let holder = (try? lock.holder())?.description ?? "another risky operation"
            if noWait {
                throw JobFailure(
                    .refused,
                    """
                    another risky operation is running (\(holder)); with --no-wait this \(type.name) did not wait. \
                    Nothing was changed; run it again when that one has finished
                    """)
            }
            let message = "waiting for \(holder) to finish"
            if message != lastMessage || Date().timeIntervalSince(lastReport) > 5 {
                // Shown in the first stage (`checking`, as every risky job starts): the contract's stages stay as they are.
                try context.progress(stage: .checking, percent: 0, processed: 0, total: 0, message: message, force: true)
                lastMessage = message
                lastReport = Date()
            }
            try context.checkCancelled()
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// A `ready` checkpoint of an earlier attempt means that attempt's worker died
    /// before its commit. PostgreSQL rolled its transaction back, so there is nothing
    /// to undo: the stale checkpoint goes, and this attempt makes its own.
    private func discardEarlierAttempt() {
        guard let path = try? context.withControl({ try CheckpointStore($0).readyPath(jobID: job.jobID) }) else { return }
        context.logger.notice("an earlier attempt stopped before its commit (rolled back by PostgreSQL); discarding its checkpoint")
        discard(path)
    }

    /// Removes a checkpoint file and its row.
    private func discard(_ path: String) {
        storage.remove(path)
        _ = try? context.withControl { try CheckpointStore($0).delete(checkpointID: job.jobID) }
    }

    // MARK: The checkpoint

    /// Writes the checkpoint with the backup writer, from one snapshot; records it as `ready`.
    private func writeCheckpoint() throws -> String {
        let path = storage.checkpointPath(jobID: job.jobID)
        let name = (path as NSString).lastPathComponent
        let params = BackupJobParams(backupType: .full, ontologyName: nil, compression: "none", fileName: name, tempFile: path)
        let range = type.plan.range(of: .creatingCheckpoint)
        let scope = JobContext.Scope(stage: .creatingCheckpoint, low: range.low, high: range.high, prefix: "writing checkpoint \(name)")
        let written: BackupJobResult
        do {
            written = try context.within(scope) { try BackupJob(params: params, context: context).run(data: db) }
        } catch let error as JobFailure where error.isStop {
            storage.remove(path)
            throw error
        } catch {
            storage.remove(path)
            throw JobFailure(
                .storage, "could not write the checkpoint (\(error)); nothing was changed. Check free space in temp storage (\(storage.directory))")
        }
        do {
            try context.withControl {
                try CheckpointStore($0).recordReady(
                    jobID: job.jobID, jobType: job.type, username: job.username,
                    fileName: name, path: path, bytes: written.bytes)
            }
            // On disk before the operation starts: a host crash must not leave a torn file behind a kept row.
            try Self.syncToDisk(path)
        } catch {
            storage.remove(path)
            _ = try? context.withControl { try CheckpointStore($0).delete(checkpointID: job.jobID) }
            throw error
        }
        return path
    }

    // MARK: After the operation

    private func checkIntegrity() throws {
        for (index, check) in GraphIntegritySQL.checks.enumerated() {
            try context.progress(
                stage: type.plan.lastStage, percent: context.currentPercent, processed: index, total: GraphIntegritySQL.checks.count,
                message: "checking the graph's integrity", force: true)
            let offending = try db.query(check.sql).rows.compactMap { $0[0] }
            if !offending.isEmpty {
                throw JobFailure(
                    .integrity, "the graph failed its integrity check after the \(type.name): \(check.message) (\(offending.joined(separator: ", ")))"
                )
            }
        }
    }

    /// Keeps the checkpoint of a job that failed before its commit (its transaction
    /// was rolled back); returns the error the job fails (or is cancelled) with.
    private func failed(_ error: Error, keeping path: String) -> Error {
        context.logger.error(
            "\(type.name) failed before its commit (rolled back): \(error); keeping its checkpoint",
            metadata: ["file": "\((path as NSString).lastPathComponent)"])
        _ = try? context.withControl { try CheckpointStore($0).keep(checkpointID: job.jobID, reason: "\(error)") }
        enforceRetention()
        let tail = """
            rolled back to checkpoint \(job.jobID): the transaction was undone, so nothing was changed; \
            the checkpoint is kept for inspection (`kg admin checkpoints download \(job.jobID)`)
            """
        return JobFailure(JobFailure(error).kind, "\(error); \(tail)")
    }

    /// fsync of the file and of its folder (the new name).
    static func syncToDisk(_ path: String) throws {
        for target in [path, (path as NSString).deletingLastPathComponent] {
            let fd = open(target, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw JobFailure(.storage, "cannot open \(target) to sync it: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            guard fsync(fd) == 0 else { throw JobFailure(.storage, "cannot sync \(target) to disk: \(String(cString: strerror(errno)))") }
        }
    }

    private func enforceRetention() {
        let old = (try? context.withControl { try CheckpointStore($0).enforceRetention(keep: retention, sparing: readsCheckpoint) }) ?? []
        for path in old {
            storage.remove(path)
            context.logger.notice("removed an old checkpoint (checkpoint_retention \(retention))", metadata: ["file": "\(path)"])
        }
    }
}
