import Foundation
import KGDatabase
import KGFormat

/// Restores an uploaded backup in one PostgreSQL transaction: fully or not at all.
///
/// 1. checking — the file's integrity again (the gateway checked it too; the
///    worker never trusts a file it did not check itself): one read, observed by the
///    checker and a header peek, that stops where `data` begins when the metadata came
///    first (the full check then rides along with loading), else checks the whole file.
/// 2. creating_checkpoint — a full backup of the graph before anything changes,
///    made by ``RiskyOperation`` (`makeCheckpoint`) when the restore asks for one
///    (merges by default); otherwise reported as not needed, so that every
///    restore shows the same stages.
/// 3. loading — the records stream into temporary staging tables with COPY;
///    then checks inside the database (duplicate ids, references, types).
/// 4. restoring_* — apply to the live graph (replace or merge).
/// 5. verifying — integrity of the live graph inside the same transaction.
/// 6. committing — the transaction is left open for the caller (``RiskyOperation``),
///    which checks the graph, marks the job completed in it and commits (a dry run
///    rolls back here).
/// A failure or cancellation anywhere before the commit rolls everything back.
struct RestoreJob {
    let params: RestoreJobParams
    /// Where the stages report (the job's ``JobContext``; a double in `KGWorkerTests`).
    let reporter: any JobReporter
    var settings: Settings
    /// Writes the checkpoint (``RiskyOperation``); nil when this restore makes none.
    var makeCheckpoint: (() throws -> Void)? = nil
    /// Runs inside the transaction just before COMMIT (a restore of a checkpoint
    /// puts back the rows its file cannot carry).
    var beforeCommit: ((PGConnection) throws -> Void)? = nil
    /// Connect pending links (`--external-deps defer`) whose concepts now exist; not when restoring a checkpoint.
    var connectsPending = true

    /// What a restore needs to know of its job besides its params.
    struct Settings {
        /// The job's id (links kept aside and connected name it).
        let jobID: String
        /// `id_check_memory_bytes`, and the temp folder where checks and loading spill past memory.
        var idCheckMemoryBytes = IntegrityChecker.defaultIDMemoryBytes
        var tempDirectory: String? = nil
        /// A pipelined restore's line to the gateway's verdict on its upload, set only while the upload
        /// may still arrive (not yet accepted); nil: the file is whole.
        var upload: UploadGate? = nil
    }

    /// The restore's stages and their percent ranges.
    static let plan = JobType.restore.plan

    init(params: RestoreJobParams, reporter: any JobReporter, settings: Settings, makeCheckpoint: (() throws -> Void)? = nil) {
        self.params = params
        self.reporter = reporter
        self.settings = settings
        self.makeCheckpoint = makeCheckpoint
    }

    /// The restore of a running job: reports through its context, with its settings.
    init(params: RestoreJobParams, context: JobContext, makeCheckpoint: (() throws -> Void)? = nil) {
        let settings = Settings(jobID: context.jobID, idCheckMemoryBytes: context.idCheckMemoryBytes, tempDirectory: context.tempDirectory)
        self.init(params: params, reporter: context, settings: settings, makeCheckpoint: makeCheckpoint)
    }

    var merge: Bool { params.mode == .merge }

    func report(_ stage: JobStage, done: Int, total: Int, message: String? = nil, force: Bool = false) throws {
        try reporter.report(stage, of: Self.plan, done: done, total: total, message: message, force: force)
    }

    /// The stages in order; each takes what the one before found and returns what it did.
    func run(data db: PGConnection, databaseSchemaVersion: Int) throws -> RestoreJobResult {
        let accepted = AcceptedUpload(settings.upload == nil)
        do {
            return try run(data: db, databaseSchemaVersion: databaseSchemaVersion, accepted: accepted)
        } catch {
            // Before the gateway accepted a pipelined upload nothing reached the graph, whatever stopped it
            // (in any stage: a cancel can come while the checkpoint is written).
            if !accepted.value { throw UploadNotAccepted(failure: JobFailure(error)) }
            throw error
        }
    }

    /// Whether the restore may change the graph: at once, or once the gateway accepted a pipelined upload.
    private final class AcceptedUpload {
        var value: Bool
        init(_ value: Bool) { self.value = value }
    }

    private func run(data db: PGConnection, databaseSchemaVersion: Int, accepted: AcceptedUpload) throws -> RestoreJobResult {
        let started = Date()
        // 1. checking
        let file = try checkFile(databaseSchemaVersion: databaseSchemaVersion)
        // 2. creating_checkpoint
        try reporter.checkpointStage(makeCheckpoint, of: Self.plan, skipped: Self.noCheckpointReason(params))

        // Staging lives in temporary tables, which use session-local buffers (8 MB by
        // default): a larger pool keeps more of the staged rows in memory (PostgreSQL's, not ours).
        // (Not possible once the session has used a temporary table: then the default stays.)
        _ = try? db.execute("SET temp_buffers = '256MB'")
        try db.execute("BEGIN")
        // The checks and the inserts sort and hash whole staging tables (DISTINCT, anti-joins):
        // with the server's default 4 MB each spills to disk in batches. One restore runs at a
        // time (the graph lock), so this is one session's allowance, for this transaction only.
        try db.execute("SET LOCAL work_mem = '\(RestoreSQL.workMem)'")
        let hint = RestoreErrorMessage.Hint()  // which backup field the running statement indexes
        let outcome: Outcome
        do {
            let lockedFrom = try lockGraph(db)
            // 3. loading, then the checks inside the database
            let loaded = try loadStage(db, file, databaseSchemaVersion: databaseSchemaVersion, hint: hint)
            // Nothing changes the graph before the gateway accepted the whole upload.
            try awaitAcceptance(total: loaded.counts.values.reduce(0, +))
            accepted.value = true
            let staged = try checkStaging(db)
            try reporter.checkCancelled()
            // 4. restoring_*
            let applied = try applyStage(db, loaded, hint: hint)
            try reporter.checkCancelled()
            // 5. verifying
            try verifyStage(db)
            try reporter.checkCancelled()
            // 6. committing (by the caller), or the rollback of a dry run
            let lockedUntil = try commitStage(db)
            outcome = Outcome(loaded: loaded, staged: staged, applied: applied, lockedFrom: lockedFrom, lockedUntil: lockedUntil)
        } catch {
            try? reporter.progress(
                stage: .rollingBack, percent: reporter.currentPercent, processed: 0, total: 0,
                message: "rolling back: nothing was changed", force: true)
            if db.isOK { _ = try? db.execute("ROLLBACK") }
            throw RestoreErrorMessage.translate(error, source: hint.located)
        }
        return outcome.result(params, plan: file.plan, seconds: (Date().timeIntervalSince(started) * 100).rounded() / 100)
    }

    /// Why a restore makes no checkpoint, as its `creating_checkpoint` stage says.
    static func noCheckpointReason(_ params: RestoreJobParams) -> String {
        params.dryRun
            ? "a dry run changes nothing"
            : params.checkpoint == false ? "skipped (--no-checkpoint)" : "not needed: the restore runs in one transaction"
    }

    /// One risky operation at a time; the status says what we wait for. Returns when the lock was taken.
    private func lockGraph(_ db: PGConnection) throws -> String? {
        if try db.query("SELECT pg_try_advisory_xact_lock($1::bigint) AS ok", [RestoreSQL.graphWriteLockKey]).first("ok") != "t" {
            try report(.loading, done: 0, total: 1, message: "waiting for another restore to finish", force: true)
            try db.query("SELECT pg_advisory_xact_lock($1::bigint)", [RestoreSQL.graphWriteLockKey])
        }
        return try Self.clock(db)
    }

    /// The database's clock, as the result's `locked_from` / `locked_until` show it.
    static func clock(_ db: PGConnection) throws -> String? {
        try db.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS t").first("t")
    }
}
