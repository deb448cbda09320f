import Foundation
import KGDatabase
import KGFormat
import Logging

/// Where a running job reports (its ``JobReporter``): throttled progress events
/// on the status exchange, the job row (progress and heartbeat), and
/// cancellation checks. The test-only hooks (`test_record_delay_ms`,
/// `test_crash_marker`, `test_fail_after_stage`) live here, behind the reporter,
/// not in the jobs.
///
/// A heartbeat thread keeps `heartbeat_at` fresh even while a single long
/// statement runs, and notices a cancellation in the row.
final class JobContext: JobReporter, @unchecked Sendable {
    // `control` is shared by the job thread and the heartbeat thread: every use holds `lock`.
    private let lock = NSLock()
    /// Nil for an offline export (fixtures, tools): no job row to update.
    private let control: PGConnection?
    private let events: StatusSink
    let jobID: String
    let jobType: JobType
    /// This worker's id: row updates only apply while it still holds the job.
    let workerID: String?
    let logger: Logger
    private let progressInterval: Double
    private let heartbeatInterval: Double
    /// Test-only slow-down per record (see `test_record_delay_ms`).
    var recordDelay: Double = 0
    /// Test-only wait after a backup's last byte (see `test_finish_delay_ms`).
    var finishDelay: Double = 0
    /// Test-only poison marker (see `test_crash_marker`).
    var crashMarker = ""
    /// `id_check_memory_bytes`, and the temp folder where checks and restores spill past memory.
    var idCheckMemoryBytes = IntegrityChecker.defaultIDMemoryBytes
    var tempDirectory: String? = nil
    /// `backup_split_min_concepts`: a full backup with at least this many concepts exports
    /// them on two connections at once (``SplitExport``); 0: never.
    var exportSplitMinConcepts = 0
    /// Test-only: fail right after this stage (see `test_fail_after_stage`).
    var failAfterStage = ""

    /// While set, every report is shown as this stage, its percent mapped into
    /// `low...high`, its message prefixed: a nested job (the checkpoint's backup)
    /// reports inside the outer job's stage.
    struct Scope {
        let stage: JobStage
        let low: Double
        let high: Double
        let prefix: String
    }
    private var scope: Scope?
    private var lastStage: JobStage?
    private var injected = false

    private var lastPublish = Date.distantPast
    private var lastRowUpdate = Date.distantPast
    private var percent = 0.0
    /// Set once the job is to stop (cancelled or taken over): thrown by the next report or check.
    private var stop: JobFailure?
    private var stopped = false
    private var heartbeatThread: Thread?

    init(
        jobID: String, jobType: JobType, workerID: String? = nil, control: PGConnection?, events: StatusSink, logger: Logger,
        progressInterval: Double, heartbeatInterval: Double
    ) {
        self.jobID = jobID
        self.jobType = jobType
        self.workerID = workerID
        self.control = control
        self.events = events
        self.logger = logger
        self.progressInterval = progressInterval
        self.heartbeatInterval = heartbeatInterval
    }

    func startHeartbeat() {
        let thread = Thread { [weak self] in self?.heartbeatLoop() }
        thread.name = "kg-heartbeat"
        heartbeatThread = thread
        thread.start()
    }

    func stopHeartbeat() {
        lock.lock()
        stopped = true
        lock.unlock()
    }

    private func heartbeatLoop() {
        while true {
            Thread.sleep(forTimeInterval: heartbeatInterval)
            lock.lock()
            if stopped {
                lock.unlock()
                return
            }
            do {
                guard let control else { lock.unlock(); return }
                let status = try JobStore(control).heartbeat(jobID: jobID, workerID: workerID)
                noteStatus(status)
            } catch {
                logger.warning("heartbeat failed: \(error)")
            }
            lock.unlock()
        }
    }

    /// Called with `lock` held.
    private func noteStatus(_ status: String?) {
        switch status {
        case "cancelled": stop = stop ?? JobFailure(.cancelled, "cancelled")
        case "taken_over":
            // Taken over wins even after a cancel was seen: the row is the new holder's now.
            stop = JobFailure(.takenOver, stop?.description ?? "another worker took this job over")
        default: break
        }
    }

    /// Throws the stop (``JobFailure``, cancelled or taken over) when the job was cancelled.
    func checkCancelled() throws {
        lock.lock()
        defer { lock.unlock() }
        if let stop { throw stop }
    }

    /// Runs `body` with its reports shown inside `scope` (see ``Scope``).
    func within<T>(_ scope: Scope, _ body: () throws -> T) rethrows -> T {
        let outer = self.scope
        self.scope = scope
        defer { self.scope = outer }
        return try body()
    }

    /// Test-only failure injection: throws when `stage` is the configured `test_fail_after_stage`.
    func passed(stage: JobStage) throws {
        guard !failAfterStage.isEmpty, !injected, scope == nil, stage.rawValue == failAfterStage else { return }
        injected = true
        logger.warning("test_fail_after_stage met: failing on purpose after \(stage.rawValue) (tests only)")
        throw JobFailure(.injected, "test failure injected after stage \(stage.rawValue) (test_fail_after_stage)")
    }

    /// Test-only poison: the process aborts before loading the concept named by `test_crash_marker`.
    func willLoad(section: String, record: JSONValue) {
        guard !crashMarker.isEmpty, section == "concepts", record["concept_id"]?.stringValue == crashMarker else { return }
        logger.critical("test_crash_marker met: crashing on purpose (tests only)")
        abort()
    }

    /// Reports progress; cheap to call per record (throttled). `percent` is clamped so it never goes down.
    func progress(
        stage reported: JobStage, percent reportedPercent: Double, processed: Int, total: Int, message reportedMessage: String? = nil,
        force: Bool = false
    ) throws {
        var stage = reported, raw = reportedPercent, message = reportedMessage
        if let scope {
            stage = scope.stage
            raw = scope.low + (scope.high - scope.low) * min(100, max(0, reportedPercent)) / 100
            message = scope.prefix + (reportedMessage.map { ": \($0)" } ?? "")
        } else {
            // A stage left behind: the test hook may fail the job here.
            let left = lastStage
            lastStage = stage
            if let left, left != stage { try passed(stage: left) }
        }
        if recordDelay > 0 && !force { Thread.sleep(forTimeInterval: recordDelay) }
        let now = Date()
        guard force || now.timeIntervalSince(lastPublish) >= progressInterval else { return }
        percent = max(percent, (raw * 10).rounded(.down) / 10)
        let progress = JobProgress(stage: stage.rawValue, percent: percent, message: message, itemsTotal: total, itemsProcessed: processed)
        let progressJSON = Self.encode(progress)
        lastPublish = now
        events.publish(
            jobID: jobID, event: "progress",
            body: Array("{\"job_id\":\"\(jobID)\",\"job_type\":\"\(jobType.rawValue)\",\"status\":\"running\",\"progress\":\(progressJSON)}".utf8))
        if force || now.timeIntervalSince(lastRowUpdate) >= 1.0 {
            lastRowUpdate = now
            lock.lock()
            defer { lock.unlock() }
            guard let control else { return }
            let status = try JobStore(control).progress(jobID: jobID, progressJSON: progressJSON, workerID: workerID)
            noteStatus(status)
            if let stop { throw stop }
        }
    }

    var currentPercent: Double { percent }

    /// Runs `body` with the control connection (job row updates outside the progress path).
    func withControl<T>(_ body: (PGConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let control else { throw JobFailure(.unexpected, "no job row for an offline export") }
        return try body(control)
    }

    /// Publishes the job's final row as its terminal event.
    func publishFinal(event: String) {
        let json = try? withControl { try JobStore($0).json(jobID: jobID) }
        if let json { events.publish(jobID: jobID, event: event, body: Array(json.utf8)) }
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// Where status events go (the broker's status exchange in production).
protocol StatusSink: Sendable {
    func publish(jobID: String, event: String, body: [UInt8])
}
