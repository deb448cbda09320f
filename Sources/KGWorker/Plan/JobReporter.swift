import KGFormat

/// Where a job's stages report their progress and learn that the job was
/// cancelled: ``JobContext`` in production (throttled events, the job row, the
/// heartbeat and the test hooks), ``SilentReporter`` where nobody listens, a
/// recording double in `KGWorkerTests` (restic's `ProgressReporter` is the model).
/// Stages report through ``report(_:of:done:total:message:force:)``: the job's
/// ``JobPlan`` turns items done into the job's percent.
protocol JobReporter: AnyObject {
    /// Reports `percent` of the whole job; cheap to call per record (throttled unless
    /// `force`). Throws ``JobFailure`` (cancelled, taken over, a test hook).
    func progress(stage: JobStage, percent: Double, processed: Int, total: Int, message: String?, force: Bool) throws
    /// Throws ``JobFailure`` (cancelled, taken over) when the job is to stop.
    func checkCancelled() throws
    /// The job's percent as reported so far (it never goes down).
    var currentPercent: Double { get }
    /// Called before a restore loads each record (where the test-only crash hook sits).
    func willLoad(section: String, record: JSONValue)
}

extension JobReporter {
    /// Reports `done` of `total` items of `stage`, placed in `stage`'s range of `plan`.
    func report(_ stage: JobStage, of plan: JobPlan, done: Int, total: Int, message: String? = nil, force: Bool = false) throws {
        try progress(
            stage: stage, percent: plan.percent(stage, processed: done, total: total), processed: done, total: total,
            message: message, force: force)
    }

    func willLoad(section: String, record: JSONValue) {}
}

/// A reporter nobody listens to: never cancelled.
final class SilentReporter: JobReporter {
    private(set) var currentPercent = 0.0

    init() {}

    func progress(stage: JobStage, percent: Double, processed: Int, total: Int, message: String?, force: Bool) throws {
        currentPercent = max(currentPercent, percent)
    }

    func checkCancelled() throws {}
}

extension JobReporter {
    /// The `creating_checkpoint` stage of a risky job: writes the checkpoint
    /// (``RiskyOperation``'s `makeCheckpoint`), or reports why there is none.
    func checkpointStage(_ makeCheckpoint: (() throws -> Void)?, of plan: JobPlan, skipped why: String = "skipped (--no-checkpoint)") throws {
        guard let makeCheckpoint else {
            return try report(.creatingCheckpoint, of: plan, done: 1, total: 1, message: why, force: true)
        }
        try report(.creatingCheckpoint, of: plan, done: 0, total: 1, message: "writing a full backup of the graph", force: true)
        try makeCheckpoint()
        try report(.creatingCheckpoint, of: plan, done: 1, total: 1, force: true)
    }
}
