import Foundation
import KGDatabase
import KGFormat
import KGService
import Logging
import NIOPosix
import ServiceLifecycle

/// Removes temp files whose owner is gone, periodically, in every gateway
/// (they share the folder; removing is idempotent):
///
/// - `*.partial` uploads that stopped growing `upload_idle_timeout_s` ago (their gateway died);
/// - `backup_<job>` files nobody has touched for that long (their reader is gone;
///   a streaming gateway refreshes the file's mtime while it reads); with
///   `backup_resume_window_s` > 0, files of ended jobs untouched for that window
///   instead (kept for resumed downloads; a running job's file stays while it runs);
/// - `restore_<job>` and `stitch_<job>` files whose job has ended (or has no row) and
///   that no worker holds (the upload gets this name only once its job row exists);
/// - `.checkpoint_<job>_…` files that are not kept checkpoints and whose job no
///   worker holds (the job lock, a lease PostgreSQL ends with its holder's session:
///   not the row's status, which a cancel changes while the worker still runs).
///   Kept checkpoints are never removed here: only retention (`checkpoint_retention`)
///   removes them.
///
/// Each sweep also hands back `running` jobs that no worker holds and whose
/// heartbeat is older than `heartbeat_timeout_s` (their worker died after another
/// worker had acknowledged the redelivered message, so no message is left): it
/// publishes the job again, and the worker that takes it decides, as for any
/// redelivery, between another attempt and an honest failure.
///
/// Each sweep also retries the job rows this gateway could not record as failed
/// (``JobFailureBacklog``), so that none stays `queued` without a message, and
/// deletes audit records older than `audit_retention_days` when that is set
/// (an index range scan on `at`: nearly free when there is nothing to delete).
struct TempJanitor: Service {
    let storage: TempStorage
    let pool: PGPool
    let backlog: JobFailureBacklog
    /// `audit_retention_days` (0: keep the audit trail for ever).
    var auditRetentionDays = 0.0
    let idleTimeout: Double
    let interval: Double
    let logger: Logger
    /// Where abandoned running jobs are handed back (nil: not done).
    var queue: JobQueue?
    /// `heartbeat_timeout_s`: a running job unheld for longer is handed back.
    var heartbeatTimeout = 30.0
    /// `backup_resume_window_s` (0: backup files go after `idleTimeout`, as uploads).
    var backupResumeWindow = 0.0

    func run() async throws {
        // Stops at once on graceful shutdown (SIGTERM), not after the next sleep.
        try? await cancelWhenGracefulShutdown {
            await sweepOnce()
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                await sweepOnce()
            }
        }
    }

    func sweepOnce() async {
        await backlog.retry(pool: pool)
        await pruneAudit()
        await handBackUnheldJobs()
        let directory = storage.directory
        let idle = idleTimeout
        let candidates: [(name: String, age: Double)] =
            (try? await NIOThreadPool.singleton.runIfActive {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                return names.compactMap { name -> (String, Double)? in
                    guard let attributes = try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)"),
                        let modified = attributes[.modificationDate] as? Date
                    else { return nil }
                    return (name, Date().timeIntervalSince(modified))
                }
            }) ?? []
        for (name, age) in candidates {
            var remove = false
            if name.hasPrefix("backup_"), backupResumeWindow > 0 {
                if age > backupResumeWindow, let jobID = Self.jobID(in: name) {
                    // Kept for resumed downloads until the window has passed since the last write or read,
                    // and never while its job runs (a worker may pause longer than a short window).
                    remove = (try? await pool.run { db in try JobStore(db).state(jobID: jobID)?.isTerminal ?? true }) ?? false
                }
            } else if name.hasSuffix(".partial") || name.hasPrefix("backup_") {
                remove = age > idle
            } else if name.hasPrefix(TempStorage.restorePrefix) || name.hasPrefix(TempStorage.stitchPrefix), age > 5,
                let jobID = Self.jobID(in: name)
            {
                do {
                    remove = try await pool.run { db in
                        let store = JobStore(db)
                        // Ended (or never queued) and not in a worker's hands: a cancelled job's worker may still read it.
                        return try (store.state(jobID: jobID)?.isTerminal ?? true) && !store.isHeld(jobID: jobID)
                    }
                } catch {
                    remove = false  // the database is away: decide next time
                }
            }
            if name.hasPrefix(TempStorage.checkpointPrefix), age > 5 {
                let path = "\(directory)/\(name)"
                let jobID = String(name.dropFirst(TempStorage.checkpointPrefix.count).prefix(36))
                do {
                    remove = try await pool.run { db in
                        guard try !CheckpointStore(db).isLive(path: path, jobID: jobID) else { return false }
                        try CheckpointStore(db).forgetUnheld(jobID: jobID)
                        return true
                    }
                } catch {
                    remove = false  // the database is away: decide next time
                }
            }
            if remove {
                await FileCalls.unlink("\(directory)/\(name)")
                logger.notice("removed an orphaned temp file", metadata: ["file": "\(name)", "age_s": "\(Int(age))"])
            }
        }
    }

    /// Publishes again the running jobs no worker holds (see the type's documentation).
    private func handBackUnheldJobs() async {
        guard let queue else { return }
        // Twice the heartbeat timeout: a redelivery already in the queue gets its chance first.
        let staleAfter = heartbeatTimeout * 2
        let jobs = (try? await pool.run { db in try JobStore(db).claimUnheldRunningJobs(staleAfter: staleAfter) }) ?? []
        for job in jobs {
            do {
                try await queue.publish(JobMessage(jobID: job.jobID, jobType: job.type))
                logger.warning(
                    "handed back a running job that no worker holds (its worker is gone)",
                    metadata: ["job_id": "\(job.jobID)", "job_type": "\(job.type)"])
            } catch {
                logger.notice(
                    "could not hand back an unheld running job; next sweep tries again",
                    metadata: ["job_id": "\(job.jobID)", "problem": "\(error)"])
            }
        }
    }

    private func pruneAudit() async {
        guard auditRetentionDays > 0 else { return }
        let days = auditRetentionDays
        do {
            let removed = try await pool.run { db in try AuditLog.prune(db, olderThanDays: days) }
            if removed > 0 {
                logger.notice("removed old audit records (audit_retention_days \(days))", metadata: ["removed": "\(removed)"])
            }
        } catch {
            logger.warning("could not remove old audit records; next sweep tries again", metadata: ["problem": "\(error)"])
        }
    }

    /// The job id in `restore_<uuid>.json` or `stitch_<uuid>.json`.
    static func jobID(in name: String) -> String? {
        let stem = name.drop { $0 != "_" }.dropFirst().prefix(36)
        return UUID(uuidString: String(stem)) != nil ? String(stem) : nil
    }
}
