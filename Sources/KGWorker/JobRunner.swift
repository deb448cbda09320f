import Foundation
import KGBroker
import KGDatabase
import KGFormat
import KGService
import Logging

/// Runs one delivered job to its terminal state. The job row decides what
/// happens: a queued job is claimed; a finished one is acknowledged and
/// skipped; a running one is left to its holder while that holder is alive
/// (it holds the job's advisory lock and heartbeats) and otherwise taken over.
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
              UUID(uuidString: message.jobID) != nil else {
            logger.error("unreadable job message; dead-lettering it", metadata: ["body": "\(String(decoding: delivery.body.prefix(200), as: UTF8.self))"])
            return .deadLetter
        }
        var log = logger
        log[metadataKey: "job_id"] = "\(message.jobID)"
        let control: PGConnection
        do {
            control = try PGConnection(url: config.databaseURL, applicationName: "kg-worker-control")
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
            log.error("job handling failed: \(error)")
            Thread.sleep(forTimeInterval: 1)
            return .requeue
        }
    }

    private func dispatch(_ message: JobMessage, control: PGConnection, logger: Logger) throws -> JobDisposition {
        let store = JobStore(control)
        if let claimed = try store.claim(jobID: message.jobID, workerID: config.workerID) {
            guard try store.tryLock(jobID: message.jobID) else {
                // Cannot happen for a job we just claimed, unless a stale holder lingers; let it be.
                logger.warning("claimed job is locked elsewhere; leaving it")
                return .ack
            }
            defer { _ = try? store.unlock(jobID: message.jobID) }
            run(claimed, control: control, logger: logger)
            return .ack
        }
        guard let state = try store.state(jobID: message.jobID) else {
            logger.warning("no row for this job; dropping the message")
            return .ack
        }
        if state.isTerminal {
            logger.info("job already \(state.status); dropping the redelivered message")
            return .ack
        }
        // Running elsewhere: wait to see whether its holder is alive.
        let deadline = Date().addingTimeInterval(config.heartbeatTimeoutSeconds)
        while true {
            if try store.tryLock(jobID: message.jobID) {
                defer { _ = try? store.unlock(jobID: message.jobID) }
                guard let current = try store.state(jobID: message.jobID), !current.isTerminal else { return .ack }
                abandoned(current, control: control, reason: "the worker running it (\(current.workerID ?? "unknown")) stopped", logger: logger)
                return .ack
            }
            guard let current = try store.state(jobID: message.jobID), !current.isTerminal else { return .ack }
            if let age = current.heartbeatAge, age > config.heartbeatTimeoutSeconds {
                // Its holder hangs but still holds the lock: a retry would wait for it; fail instead.
                abandoned(current, control: control, reason: "the worker running it (\(current.workerID ?? "unknown")) stopped responding",
                          retry: false, logger: logger)
                return .ack
            }
            if Date() > deadline {
                logger.info("job is held by a live worker (\(current.workerID ?? "unknown")); leaving it")
                return .ack
            }
            Thread.sleep(forTimeInterval: 0.5)
        }
    }

    /// A job whose worker died. A restore starts again (its transaction died with
    /// the worker, so nothing was applied) until `max_attempts`; a backup cannot
    /// resume: its download already broke off.
    private func abandoned(_ state: JobState, control: PGConnection, reason: String, retry: Bool = true, logger: Logger) {
        let store = JobStore(control)
        if state.type != "backup" && retry && state.attempts < config.maxAttempts,
           let taken = try? store.takeOver(jobID: state.jobID, workerID: config.workerID) {
            logger.warning("\(reason); taking the job over (attempt \(taken.attempts) of \(config.maxAttempts))")
            run(taken, control: control, logger: logger)
            return
        }
        let message = state.type == "backup"
            ? "\(reason) during the backup; the download was interrupted: take a new backup"
            : "\(reason) \(state.attempts) time(s); gave up after \(state.attempts) attempt(s). Nothing was changed: each attempt was rolled back"
        if (try? store.fail(jobID: state.jobID, error: message)) == true {
            logger.warning("failed abandoned job: \(message)")
            if let path = state.tempFile { storage.remove(path) }
            if let json = try? store.json(jobID: state.jobID) {
                events.publish(jobID: state.jobID, event: "failed", body: Array(json.utf8))
            }
        }
    }

    private func run(_ job: JobState, control: PGConnection, logger: Logger) {
        let context = JobContext(jobID: job.jobID, jobType: job.type, control: control, events: events, logger: logger,
                                 progressInterval: config.progressIntervalSeconds, heartbeatInterval: config.heartbeatIntervalSeconds)
        context.recordDelay = config.testRecordDelayMilliseconds / 1000
        context.startHeartbeat()
        defer { context.stopHeartbeat() }
        logger.info("job started", metadata: ["type": "\(job.type)", "attempt": "\(job.attempts)"])
        let started = Date()
        var tempFile = job.tempFile
        do {
            let resultJSON: String
            switch job.type {
            case "backup":
                let params = try JSONDecoder().decode(BackupJobParams.self, from: Data(job.params.utf8))
                tempFile = params.tempFile
                let data = try PGConnection(url: config.databaseURL, applicationName: "kg-worker-data")
                defer { data.close() }
                let result = try BackupJob(params: params, context: context).run(data: data)
                resultJSON = JobContext.encode(result)
            case "restore":
                let params = try JSONDecoder().decode(RestoreJobParams.self, from: Data(job.params.utf8))
                tempFile = params.tempFile
                let data = try PGConnection(url: config.databaseURL, applicationName: "kg-worker-data")
                defer { data.close() }
                let version = try MigrationRunner(connection: data).currentVersion()
                let result = try RestoreJob(params: params, context: context).run(data: data, databaseSchemaVersion: version)
                resultJSON = JobContext.encode(result)
            default:
                throw JobFailure("this worker cannot run \(job.type) jobs yet")
            }
            let final = JobContext.encode(JobProgress(stage: "completed", percent: 100, message: "done"))
            let completed = try context.withControl { try JobStore($0).complete(jobID: job.jobID, resultJSON: resultJSON, progressJSON: final) }
            if job.type == "restore", let tempFile { storage.remove(tempFile) }
            if completed {
                logger.info("job completed", metadata: ["seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))"])
                context.publishFinal(event: "completed")
            } else {
                // Cancelled while finishing: the result is void.
                if let tempFile { storage.remove(tempFile) }
                context.publishFinal(event: "cancelled")
            }
        } catch let cancelled as JobCancelled {
            logger.notice("job cancelled: \(cancelled)")
            if let tempFile { storage.remove(tempFile) }
            _ = try? context.withControl { try JobStore($0).cancel(jobID: job.jobID, reason: cancelled.description) }
            context.publishFinal(event: "cancelled")
        } catch {
            logger.error("job failed: \(error)")
            if let tempFile { storage.remove(tempFile) }
            let failed = JobContext.encode(JobProgress(stage: "failed", percent: context.currentPercent, message: "\(error)"))
            _ = try? context.withControl { try JobStore($0).fail(jobID: job.jobID, error: "\(error)", progressJSON: failed) }
            context.publishFinal(event: "failed")
        }
    }
}

extension StatusPublisher: StatusSink {}
