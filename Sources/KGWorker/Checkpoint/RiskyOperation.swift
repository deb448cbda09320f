import Foundation
import KGDatabase
import KGFormat
import KGService

/// The checkpoint pattern around one risky job (a merge restore, prune,
/// stitch, ontology delete), run by the worker that holds the job:
///
/// 0. the graph lock (``GraphLock``, session level, on the data connection) for
///    the whole job: a second risky job waits and says for what, or fails at
///    once with `no_wait`; if an earlier attempt of this job died mid-operation
///    after making its checkpoint, the graph is first rolled back to it;
/// 1. the checkpoint: a full backup of the graph by the backup writer into temp
///    storage (`.checkpoint_<job>_<YYYYMMDD_HHMMSS>.json`), when the operation asks
///    for one (its `makeCheckpoint` closure, called at its `creating_checkpoint` stage),
///    plus the rows a backup cannot carry (`kg_api.checkpoint_rows`);
/// 2. the operation;
/// 3. the integrity of the graph (``GraphIntegritySQL``);
/// 4. success: the checkpoint is deleted (or kept on request). Failure of any
///    kind: the graph is restored from the checkpoint (a replace restore of the
///    file), the file is kept for inspection (retention keeps the newest N), and
///    the job fails with "rolled back to checkpoint"; if that restore fails too,
///    the error says so and names the file to restore by hand.
struct RiskyOperation {
    let context: JobContext
    let storage: TempStorage
    /// The job's data connection: the lock, the checkpoint's snapshot, the operation and the rollback share it.
    let db: PGConnection
    let job: JobState
    let retention: Int
    let databaseSchemaVersion: Int
    let checkpoint: Bool
    let keepCheckpoint: Bool
    let noWait: Bool
    /// Where the `creating_checkpoint` stage sits in the job's percent.
    let checkpointRange: (Double, Double)
    /// The operation's last stage, after which the test hook may inject a failure.
    let lastStage: String

    /// The checkpoint made by this run.
    private final class Made {
        var path: String?
    }

    func run<R>(_ body: (_ makeCheckpoint: (() throws -> Void)?) throws -> R) throws -> (R, CheckpointOutcome) {
        try acquireLock()
        defer { _ = try? GraphLock(db).release() }
        try recoverEarlierAttempt()

        let made = Made()
        do {
            let result = try body(checkpoint ? { made.path = try writeCheckpoint() } : nil)
            try context.passed(stage: lastStage)
            try checkIntegrity()
            guard let path = made.path else { return (result, .none) }
            if keepCheckpoint {
                try context.withControl { try CheckpointStore($0).keep(checkpointID: job.jobID, reason: "kept on request (--keep-checkpoint)") }
                enforceRetention()
                return (result, .kept(id: job.jobID))
            }
            storage.remove(path)
            _ = try? context.withControl { try CheckpointStore($0).delete(checkpointID: job.jobID) }
            return (result, .deleted(id: job.jobID))
        } catch {
            guard let path = made.path else { throw error }
            if let pgError = error as? PGError, pgError.isConnectionFailure {
                // The database went away: the job is handed back, and the next
                // attempt rolls back to this checkpoint first (it is still `ready`).
                throw error
            }
            throw rollBack(to: path, after: error)
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
                throw JobFailure("""
                    another risky operation is running (\(holder)); with --no-wait this \(Self.name(job.type)) did not wait. \
                    Nothing was changed; run it again when that one has finished
                    """)
            }
            let message = "waiting for \(holder) to finish"
            if message != lastMessage || Date().timeIntervalSince(lastReport) > 5 {
                // Shown in the first stage (`checking`, as every risky job starts): the contract's stages stay as they are.
                try context.progress(stage: "checking", percent: 0, processed: 0, total: 0, message: message, force: true)
                lastMessage = message
                lastReport = Date()
            }
            try context.checkCancelled()
            Thread.sleep(forTimeInterval: 0.25)
        }
    }

    /// A `ready` checkpoint of an earlier attempt means that attempt's worker died
    /// mid-operation: the graph may be half-changed, so it goes back to the checkpoint first.
    private func recoverEarlierAttempt() throws {
        guard let path = try context.withControl({ try CheckpointStore($0).readyPath(jobID: job.jobID) }) else { return }
        guard FileManager.default.fileExists(atPath: path) else {
            _ = try? context.withControl { try CheckpointStore($0).delete(checkpointID: job.jobID) }
            return
        }
        context.logger.warning("an earlier attempt stopped mid-operation; rolling the graph back to its checkpoint first")
        do {
            try restore(path, message: "an earlier attempt stopped mid-operation: rolling back to its checkpoint first")
        } catch {
            let reason = "an earlier attempt stopped mid-operation and rolling back to its checkpoint failed: \(error)"
            _ = try? context.withControl { try CheckpointStore($0).keep(checkpointID: job.jobID, status: "rollback_failed", reason: reason) }
            throw JobFailure(Self.rollbackFailed(reason: reason, id: job.jobID, path: path))
        }
        storage.remove(path)
        _ = try? context.withControl { try CheckpointStore($0).delete(checkpointID: job.jobID) }
    }

    // MARK: The checkpoint

    /// Writes the checkpoint with the backup writer, from one snapshot; records it as `ready`.
    private func writeCheckpoint() throws -> String {
        let path = storage.checkpointPath(jobID: job.jobID)
        let name = (path as NSString).lastPathComponent
        let params = BackupJobParams(backupType: .full, ontologyName: nil, compression: "none", fileName: name, tempFile: path)
        let scope = JobContext.Scope(stage: RestoreStage.creatingCheckpoint.rawValue, low: checkpointRange.0, high: checkpointRange.1,
                                     prefix: "writing checkpoint \(name)", mustFinish: false)
        let written: BackupJobResult
        do {
            written = try context.within(scope) { try BackupJob(params: params, context: context).run(data: db) }
        } catch let error as JobCancelled {
            storage.remove(path)
            throw error
        } catch {
            storage.remove(path)
            throw JobFailure("could not write the checkpoint (\(error)); nothing was changed. Check free space in temp storage (\(storage.directory))")
        }
        do {
            try context.withControl {
                try CheckpointStore($0).recordReady(jobID: job.jobID, jobType: job.type, username: job.username,
                                                    fileName: name, path: path, bytes: written.bytes)
            }
            // Rows the file cannot carry; the graph lock keeps them consistent with the snapshot.
            try context.withControl { try CheckpointStore($0).saveUnrepresentableRows(checkpointID: job.jobID, graph: db) }
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
            try context.progress(stage: lastStage, percent: context.currentPercent, processed: index, total: GraphIntegritySQL.checks.count,
                                 message: "checking the graph's integrity", force: true)
            let offending = try db.query(check.sql).rows.compactMap { $0[0] }
            if !offending.isEmpty {
                throw JobFailure("the graph failed its integrity check after the \(Self.name(job.type)): \(check.message) (\(offending.joined(separator: ", ")))")
            }
        }
    }

    /// Restores the checkpoint after `error`; returns the error the job fails (or is cancelled) with.
    private func rollBack(to path: String, after error: Error) -> Error {
        let name = (path as NSString).lastPathComponent
        context.logger.error("\(Self.name(job.type)) failed: \(error); rolling back to checkpoint \(name)")
        if db.isOK && db.inTransaction { _ = try? db.execute("ROLLBACK") }  // an operation's open transaction, if any
        do {
            try restore(path, message: "rolling back to checkpoint \(name)")
        } catch let rollbackError {
            let reason = "\(error); then the rollback to the checkpoint failed: \(rollbackError)"
            _ = try? context.withControl { try CheckpointStore($0).keep(checkpointID: job.jobID, status: "rollback_failed", reason: reason) }
            return JobFailure(Self.rollbackFailed(reason: reason, id: job.jobID, path: path))
        }
        _ = try? context.withControl { try CheckpointStore($0).keep(checkpointID: job.jobID, reason: "\(error)") }
        enforceRetention()
        let tail = "rolled back to checkpoint \(job.jobID); the checkpoint is kept for inspection (`kg admin checkpoints download \(job.jobID)`)"
        if let cancelled = error as? JobCancelled { return JobCancelled(description: "\(cancelled.description); \(tail)") }
        return JobFailure("\(error); \(tail)")
    }

    /// A replace restore of a checkpoint file, reported as `rolling_back`, not to be cancelled.
    private func restore(_ path: String, message: String) throws {
        let bytes = Int((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)??.intValue ?? 0)
        let params = RestoreJobParams(mode: .replace, dryRun: false, externalDeps: .fail, tempFile: path,
                                      fileName: (path as NSString).lastPathComponent, fileBytes: bytes,
                                      backupType: "full_backup", ontology: nil, statistics: [:], checkpoint: false)
        let percent = context.currentPercent
        let scope = JobContext.Scope(stage: RestoreStage.rollingBack.rawValue, low: percent, high: percent, prefix: message, mustFinish: true)
        let checkpointID = job.jobID
        _ = try context.within(scope) {
            try RestoreJob(params: params, context: context, beforeCommit: { db in
                try CheckpointStore(db).restoreUnrepresentableRows(checkpointID: checkpointID)
                // What this job kept aside or connected (`--external-deps defer`) is undone too.
                for statement in PendingSQL.undo { try db.query(statement, [checkpointID]) }
            }, connectsPending: false).run(data: db, databaseSchemaVersion: databaseSchemaVersion)
        }
    }

    private func enforceRetention() {
        let old = (try? context.withControl { try CheckpointStore($0).enforceRetention(keep: retention) }) ?? []
        for path in old {
            storage.remove(path)
            context.logger.notice("removed an old checkpoint (checkpoint_retention \(retention))", metadata: ["file": "\(path)"])
        }
    }

    /// The loud message when the graph could not be rolled back.
    static func rollbackFailed(reason: String, id: String, path: String) -> String {
        """
        ROLLBACK FAILED: \(reason). The graph may be inconsistent. Restore the checkpoint by hand: \
        `kg admin checkpoints download \(id)`, then `kg admin restore FILE --mode replace --no-checkpoint` \
        (on the server the file is \(path))
        """
    }

    static func name(_ jobType: String) -> String { jobType.replacingOccurrences(of: "_", with: " ") }
}
