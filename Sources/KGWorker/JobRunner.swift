import Foundation
import KGBroker
import KGDatabase
import KGFormat
import KGService
import Logging

/// Runs one delivered job to its terminal state. The job row decides what
/// happens: a queued job is claimed; a finished one is acknowledged and
/// skipped; a running one is left to its holder while that holder is alive, and
/// taken over when it is not:
///
/// - the holder died: PostgreSQL released its advisory lock on the job at once;
/// - the holder hangs (SIGSTOP, a stuck call): its heartbeat is older than
///   `heartbeat_timeout_s`; its sessions are ended (`pg_terminate_backend`), so its
///   transaction rolls back and its locks go, and it can no longer write the row
///   (every row update checks `worker_id`).
///
/// A restore is run again until `max_attempts`, then failed and dead-lettered;
/// a backup is never re-run (its download already broke off).
final class JobRunner: @unchecked Sendable {
    // Only used from the consumer's single handler thread, one job at a time.
    private let config: ServiceConfig
    private let events: StatusSink
    private let storage: TempStorage
    private let logger: Logger

    init(config: ServiceConfig, events: StatusSink, storage: TempStorage, logger: Logger) {
        self.config = config
        self.events = events
        self.storage = storage
        self.logger = logger
    }

    func handle(_ delivery: Delivery) -> JobDisposition {
        guard let message = try? JSONDecoder().decode(JobMessage.self, from: Data(delivery.body)),
            UUID(uuidString: message.jobID) != nil
        else {
            logger.error(
                "unreadable job message; dead-lettering it", metadata: ["body": "\(String(decoding: delivery.body.prefix(200), as: UTF8.self))"])
            return .deadLetter
        }
        var log = logger
        log[metadataKey: "job_id"] = "\(message.jobID)"
        let control: PGConnection
        do {
            control = try PGConnection(url: config.databaseURL, applicationName: JobStore.applicationName(jobID: message.jobID, role: "control"))
        } catch {
            // The database is away: hand the job back; another attempt comes after a pause.
            log.error("cannot reach the database, requeueing: \(error)")
            Thread.sleep(forTimeInterval: 2)
            return .requeue
        }
        defer { control.close() }
        do {
            return try dispatch(message, control: control, logger: log)
        } catch {
            log.error("job handling failed, requeueing: \(error)")
            Thread.sleep(forTimeInterval: 1)
            return .requeue
        }
    }

    /// The checkpoint pattern around a restore, prune, ontology delete or stitch job.
    private func riskyOperation(
        _ options: RiskyJobOptions, _ type: JobType, job: JobState, context: JobContext,
        data: PGConnection
    ) -> RiskyOperation {
        RiskyOperation(
            context: context, storage: storage, db: data, job: job, type: type, retention: config.checkpointRetention,
            checkpoint: options.makesCheckpoint, keepCheckpoint: options.keepCheckpoint ?? false,
            noWait: options.noWait ?? false, commit: JobCommit(jobID: job.jobID, workerID: config.workerID))
    }

    /// A result with its checkpoint's outcome, as stored in the job row.
    private static func encode<R: CheckpointedResult>(_ result: R, _ checkpoint: CheckpointOutcome) -> String {
        var result = result
        result.checkpoint = checkpoint.label
        result.checkpointID = checkpoint.id
        return JobContext.encode(result)
    }

    private func dispatch(_ message: JobMessage, control: PGConnection, logger: Logger) throws -> JobDisposition {
        let store = JobStore(control)
        var logger = logger
        if let claimed = try store.claim(jobID: message.jobID, workerID: config.workerID) {
            // Set once per job: every later line of this job carries who asked for it.
            logger[metadataKey: "user"] = "\(claimed.username)"
            logger[metadataKey: "job_type"] = "\(claimed.type)"
            guard try store.tryLock(jobID: message.jobID) else {
                logger.warning("claimed job is locked elsewhere; leaving it")
                return .ack
            }
            defer { _ = try? store.unlock(jobID: message.jobID) }
            return run(claimed, control: control, logger: logger)
        }
        guard let state = try store.state(jobID: message.jobID) else {
            logger.warning("no row for this job; dropping the message")
            return .ack
        }
        logger[metadataKey: "user"] = "\(state.username)"
        logger[metadataKey: "job_type"] = "\(state.type)"
        if state.isTerminal {
            logger.info("job already \(state.status); dropping the redelivered message")
            return .ack
        }
        // Running elsewhere: is its holder alive?
        let deadline = Date().addingTimeInterval(config.heartbeatTimeoutSeconds)
        while true {
            if try store.tryLock(jobID: message.jobID) {
                defer { _ = try? store.unlock(jobID: message.jobID) }
                guard let current = try store.state(jobID: message.jobID), !current.isTerminal else { return .ack }
                return abandoned(
                    current, control: control, reason: "the worker running it (\(current.workerID ?? "unknown")) stopped", logger: logger)
            }
            guard let current = try store.state(jobID: message.jobID), !current.isTerminal else { return .ack }
            if let age = current.heartbeatAge, age > config.heartbeatTimeoutSeconds {
                // A hung holder: end its sessions, then the lock is ours.
                let ended = try store.terminateHolder(jobID: message.jobID)
                logger.warning(
                    "the worker holding the job (\(current.workerID ?? "unknown")) sent no heartbeat for \(Int(age)) s; ended its \(ended) database session(s)"
                )
                // Never without the job lock: while any session of the old holder lives, the job is not ours.
                var locked = false
                for _ in 0..<50 {
                    if try store.tryLock(jobID: message.jobID) {
                        locked = true
                        break
                    }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                guard locked else {
                    logger.warning("the hung holder's sessions did not end within 5 s; handing the job back to try again later")
                    Thread.sleep(forTimeInterval: 2)
                    return .requeue
                }
                defer { _ = try? store.unlock(jobID: message.jobID) }
                guard let now = try store.state(jobID: message.jobID), !now.isTerminal else { return .ack }
                return abandoned(
                    now, control: control, reason: "the worker running it (\(now.workerID ?? "unknown")) stopped responding", logger: logger)
            }
            if Date() > deadline {
                logger.info("job is held by a live worker (\(current.workerID ?? "unknown")); leaving it")
                return .ack
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// A job whose worker died or hangs.
    private func abandoned(_ state: JobState, control: PGConnection, reason: String, logger: Logger) -> JobDisposition {
        let store = JobStore(control)
        // A type this worker does not know is run (and fails saying so) like a restore.
        let runsAgain = JobType(rawValue: state.type)?.runsAgain ?? true
        if runsAgain && state.attempts < config.maxAttempts,
            let taken = try? store.takeOver(jobID: state.jobID, workerID: config.workerID)
        {
            logger.warning("\(reason); taking the job over (attempt \(taken.attempts) of \(config.maxAttempts))")
            return run(taken, control: control, logger: logger)
        }
        var message =
            !runsAgain
            ? "\(reason) during the backup; the download was interrupted: take a new backup"
            : "\(reason) on attempt \(state.attempts) of \(config.maxAttempts); gave up. Nothing was changed: no attempt committed "
                + "(a job's changes and its completion commit together)"
        // A risky job's checkpoint from the last attempt: keep it for inspection (the janitor would remove it).
        if runsAgain, (try? CheckpointStore(control).readyPath(jobID: state.jobID)) != nil {
            _ = try? CheckpointStore(control).keep(checkpointID: state.jobID, reason: message)
            message += "; its checkpoint is kept (`kg admin checkpoints download \(state.jobID)`)"
        }
        if (try? store.fail(jobID: state.jobID, error: message)) == true {
            logger.warning("failed abandoned job: \(message)")
            if let path = state.tempFile { storage.remove(path) }
            if let json = try? store.json(jobID: state.jobID) {
                events.publish(jobID: state.jobID, event: "failed", body: Array(json.utf8))
            }
        }
        // A restore that exhausted its attempts is a poison job: keep its message for inspection.
        return runsAgain ? .deadLetter : .ack
    }

    /// Runs a held job. Returns `.requeue` only when the outcome could not be
    /// recorded (the database went away): the message comes back and the row,
    /// still `running` with no live holder, is taken over.
    private func run(_ job: JobState, control: PGConnection, logger: Logger) -> JobDisposition {
        guard let type = JobType(rawValue: job.type) else { return refuseUnknownType(job, control: control, logger: logger) }
        let context = JobContext(
            jobID: job.jobID, jobType: type, workerID: config.workerID, control: control, events: events,
            logger: logger, progressInterval: config.progressIntervalSeconds,
            heartbeatInterval: config.heartbeatIntervalSeconds)
        context.recordDelay = config.testRecordDelayMilliseconds / 1000
        context.finishDelay = config.testFinishDelayMilliseconds / 1000
        context.exportSplitMinConcepts = config.backupSplitMinConcepts
        context.crashMarker = config.testCrashMarker
        context.idCheckMemoryBytes = config.idCheckMemoryBytes
        context.tempDirectory = storage.directory
        context.failAfterStage = config.testFailAfterStage
        context.startHeartbeat()
        defer { context.stopHeartbeat() }
        logger.info("job started", metadata: ["attempt": "\(job.attempts)"])
        let started = Date()
        var tempFile = job.tempFile
        let mine = config.workerID
        do {
            let data = try PGConnection(url: config.databaseURL, applicationName: JobStore.applicationName(jobID: job.jobID, role: "data"))
            defer { data.close() }
            let finished = try execute(type, job, context: context, data: data, tempFile: &tempFile)
            // A job that changed the graph was marked completed in its own transaction;
            // one that changed nothing (a backup, a dry run) is marked now.
            let completed =
                try finished.committed
                || context.withControl { try JobCommit(jobID: job.jobID, workerID: mine).complete($0, resultJSON: finished.resultJSON) }
            // The job's upload (a restore's file, a stitch's references) goes with the job.
            if type.removesUploadWhenDone, let tempFile { storage.remove(tempFile) }
            if completed {
                logger.info("job completed", metadata: ["seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
                context.publishFinal(event: "completed")
            } else {
                // Cancelled while finishing, or taken over: the result is void (it changed nothing).
                if type == .backup, let tempFile { storage.remove(tempFile) }
                context.publishFinal(event: "cancelled")
            }
            return .ack
        } catch {
            let failure = JobFailure(error)
            switch failure.disposition(type) {
            case .leave:
                logger.notice("job stopped: \(failure)")
                return .ack  // the new holder owns the row and the temp file now
            case .cancel(let reason):
                logger.notice("job stopped: \(failure)")
                if let tempFile { storage.remove(tempFile) }
                _ = try? context.withControl { try JobStore($0).cancel(jobID: job.jobID, reason: reason) }
                context.publishFinal(event: "cancelled")
                return .ack
            case .runAgain:
                // The database went away mid-job: the transaction rolled back. Hand the job back.
                logger.error("lost the database during the job (rolled back); requeueing: \(error)")
                Thread.sleep(forTimeInterval: 2)
                return .requeue
            case .fail(let reason):
                logger.error("job failed: \(error)")
                let failed = JobContext.encode(JobProgress(stage: JobStage.failed.rawValue, percent: context.currentPercent, message: reason))
                var recorded =
                    (try? context.withControl { try JobStore($0).fail(jobID: job.jobID, error: reason, progressJSON: failed, workerID: mine) })
                    ?? false
                if !recorded, !type.runsAgain, !control.isOK {
                    // The database is away (a restart): record the real cause once it is back, rather than leave
                    // the row running for the janitor's hand-back, whose message would blame this worker.
                    recorded = recordWhenTheDatabaseReturns(jobID: job.jobID, reason: reason, progressJSON: failed, logger: logger)
                }
                if !recorded, type.runsAgain, !control.isOK {
                    logger.error("could not record the failure (database away); requeueing")
                    Thread.sleep(forTimeInterval: 2)
                    return .requeue
                }
                if let tempFile { storage.remove(tempFile) }
                context.publishFinal(event: "failed")
                return .ack
            }
        }
    }

    /// Decodes the job's `params` and runs it: a job that changes the graph under the
    /// checkpoint pattern (``RiskyOperation``). Sets `tempFile` to the file the job owns.
    private func execute(
        _ type: JobType, _ job: JobState, context: JobContext, data: PGConnection,
        tempFile: inout String?
    ) throws -> RiskyOperation.Finished {
        let params = Data(job.params.utf8)
        switch type {
        case .backup:
            let params = try JSONDecoder().decode(BackupJobParams.self, from: params)
            tempFile = params.tempFile
            let result = try BackupJob(params: params, context: context).run(data: data)
            return RiskyOperation.Finished(resultJSON: JobContext.encode(result), committed: false)
        case .restore:
            let params = try JSONDecoder().decode(RestoreJobParams.self, from: params)
            // A pipelined restore's file is the upload's until the gateway accepts it: only then the job's.
            let pipelined = params.pipelined == true && params.uploadAccepted != true
            // A kept checkpoint restored on purpose stays where it is (it is not an upload).
            tempFile = params.sourceCheckpoint == nil && !pipelined ? params.tempFile : nil
            let accepted = AcceptedFile()
            defer {
                if let path = accepted.path {
                    tempFile = path
                } else if pipelined {
                    // Stopped before it saw the upload accepted: release it, unless the gateway accepted it
                    // (and moved it to the job's name) just before; then the file is the job's to remove.
                    let id = job.jobID
                    let released = (try? context.withControl { try JobStore($0).releaseUpload(jobID: id) }) ?? true
                    if !released, let file = (try? context.withControl({ try JobStore($0).acceptedUpload(jobID: id) })) ?? nil {
                        tempFile = file
                    }
                }
            }
            let version = try MigrationRunner(connection: data).currentVersion()
            var risky = riskyOperation(params, type, job: job, context: context, data: data)
            risky.readsCheckpoint = params.sourceCheckpoint
            return try risky.run(encode: Self.encode) { makeCheckpoint in
                var restore = RestoreJob(params: params, context: context, makeCheckpoint: makeCheckpoint)
                if pipelined {
                    let id = job.jobID
                    restore.settings.upload = UploadGate(
                        accepted: { try context.withControl { try JobStore($0).acceptedUpload(jobID: id) } },
                        giveUp: { try context.withControl { try JobStore($0).giveUpUpload(jobID: id) } },
                        onAccepted: { accepted.path = $0 },
                        stallSeconds: config.restorePipelineStallSeconds)
                }
                if let source = params.sourceCheckpoint {
                    restore.connectsPending = false  // the graph becomes the checkpoint's, nothing more
                    restore.beforeCommit = { db in
                        try CheckpointStore(db).restoreUnrepresentableRows(checkpointID: source)
                        // What the checkpoint's job did to the pending links is undone too.
                        for statement in PendingSQL.undo { try db.query(statement, [source]) }
                    }
                }
                return try restore.run(data: data, databaseSchemaVersion: version)
            }
        case .prune, .ontologyDelete:
            let operation: GraphOperation = type == .prune ? .prune : .ontologyDelete
            let params = try JSONDecoder().decode(GraphOperationParams.self, from: params)
            return try riskyOperation(params, type, job: job, context: context, data: data).run(encode: Self.encode) { makeCheckpoint in
                try GraphOperationJob(operation: operation, params: params, context: context, makeCheckpoint: makeCheckpoint).run(data: data)
            }
        case .stitch:
            let params = try JSONDecoder().decode(StitchJobParams.self, from: params)
            return try riskyOperation(params, type, job: job, context: context, data: data).run(encode: Self.encode) { makeCheckpoint in
                try StitchJob(
                    params: params, threshold: params.threshold ?? config.stitchThreshold, context: context,
                    makeCheckpoint: makeCheckpoint
                ).run(data: data)
            }
        }
    }

    /// A job of a type this worker does not know (a newer gateway's): failed, saying so.
    private func refuseUnknownType(_ job: JobState, control: PGConnection, logger: Logger) -> JobDisposition {
        let reason = "this worker cannot run \(job.type) jobs"
        logger.error("job failed: \(reason)")
        let failed = JobContext.encode(JobProgress(stage: JobStage.failed.rawValue, percent: 0, message: reason))
        let store = JobStore(control)
        if (try? store.fail(jobID: job.jobID, error: reason, progressJSON: failed, workerID: config.workerID)) == true {
            if let path = job.tempFile { storage.remove(path) }
            if let json = try? store.json(jobID: job.jobID) { events.publish(jobID: job.jobID, event: "failed", body: Array(json.utf8)) }
        }
        return .ack
    }
}

extension JobRunner {
    /// Marks a job failed with its real cause on fresh connections, every 2 s for up to a minute; true once recorded.
    fileprivate func recordWhenTheDatabaseReturns(jobID: String, reason: String, progressJSON: String, logger: Logger) -> Bool {
        for _ in 0..<30 {
            Thread.sleep(forTimeInterval: 2)
            let name = JobStore.applicationName(jobID: jobID, role: "control")
            guard let db = try? PGConnection(url: config.databaseURL, applicationName: name) else { continue }
            defer { db.close() }
            if let done = try? JobStore(db).fail(jobID: jobID, error: reason, progressJSON: progressJSON, workerID: config.workerID) {
                return done
            }
        }
        logger.error("could not record the failure: the database stayed away for a minute")
        return false
    }
}

extension StatusPublisher: StatusSink {}

/// The file a pipelined restore owns once the gateway accepted its upload (set from the restore's gate).
private final class AcceptedFile: @unchecked Sendable {
    var path: String?
}
