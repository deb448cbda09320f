import Foundation

/// The `kg_api.jobs` table: the source of truth for every job's state.
/// All values are bound parameters; the job's API JSON is built by PostgreSQL.
///
/// Times are `clock_timestamp()`, never `now()`: a restore marks its job completed
/// inside the transaction that applied it (``RiskyOperation``), where `now()` is the
/// moment that transaction began, minutes before the job ended.
public struct JobStore {
    public let db: PGConnection

    public init(_ db: PGConnection) { self.db = db }

    static let jobJSON = """
        json_build_object('job_id', job_id, 'job_type', job_type, 'status', status,
            'progress', progress, 'result', result, 'error', error,
            'created_at', created_at, 'started_at', started_at, 'completed_at', completed_at,
            'user', username, 'attempts', attempts)::text
        """

    public func create(jobID: String, type: String, username: String, params: String, tempFile: String?) throws {
        try db.query(
            """
            INSERT INTO kg_api.jobs (job_id, job_type, username, params, temp_file, progress)
            VALUES ($1::uuid, $2, $3, $4::jsonb, $5, '{"stage": "queued", "percent": 0}')
            """, [jobID, type, username, params, tempFile])
    }

    // MARK: Pipelined restores (docs/DESIGN.md "Restores that start while the upload arrives")

    /// The gateway, once its check of the whole upload passed: the pipelined restore `jobID` may
    /// change the graph, and its file is now `tempFile` (the row's too, so it goes with the job).
    /// False when the job ended or its worker gave the upload up: the caller queues a new restore.
    public func acceptUpload(jobID: String, tempFile: String) throws -> Bool {
        try db.query(
            """
            UPDATE kg_api.jobs
            SET params = params || jsonb_build_object('upload_accepted', true, 'temp_file', $2::text), temp_file = $2
            WHERE job_id = $1::uuid AND status IN ('queued', 'running')
              AND NOT coalesce((params->>'upload_stalled')::boolean, false)
              AND NOT coalesce((params->>'upload_released')::boolean, false)
            RETURNING job_id
            """, [jobID, tempFile]
        ).rows.count == 1
    }

    /// The worker: the file of its pipelined restore once the gateway accepted the upload, else nil.
    public func acceptedUpload(jobID: String) throws -> String? {
        try db.query(
            """
            SELECT params->>'temp_file' AS file FROM kg_api.jobs
            WHERE job_id = $1::uuid AND coalesce((params->>'upload_accepted')::boolean, false)
            """, [jobID]
        ).first("file")
    }

    /// The worker gives its pipelined restore up (the upload stalled), unless the gateway accepted
    /// the upload meanwhile: one statement, so that only one of the two wins. True when given up.
    public func giveUpUpload(jobID: String) throws -> Bool {
        try markUnaccepted(jobID: jobID, flag: "upload_stalled")
    }

    /// The worker, when its pipelined restore stops before it saw the upload accepted: the gateway may
    /// no longer accept it (one statement, so that only one of the two wins). True when released;
    /// false when the gateway accepted it first (the file is then the job's, `acceptedUpload`).
    public func releaseUpload(jobID: String) throws -> Bool {
        try markUnaccepted(jobID: jobID, flag: "upload_released")
    }

    /// Sets `params.<flag>` unless the upload was accepted; true when set. `flag` is one of the two above.
    private func markUnaccepted(jobID: String, flag: String) throws -> Bool {
        try db.query(
            """
            UPDATE kg_api.jobs SET params = params || jsonb_build_object($2::text, true)
            WHERE job_id = $1::uuid AND NOT coalesce((params->>'upload_accepted')::boolean, false)
            RETURNING job_id
            """, [jobID, flag]
        ).rows.count == 1
    }

    /// The status of a job (nil when there is none).
    public func status(jobID: String) throws -> String? {
        try db.query("SELECT status FROM kg_api.jobs WHERE job_id = $1::uuid", [jobID]).first("status")
    }

    /// The job's API JSON, or nil when there is no such job (or it is not `username`'s and `username` is set).
    public func json(jobID: String, visibleTo username: String? = nil) throws -> String? {
        guard UUID(uuidString: jobID) != nil else { return nil }
        return try db.query(
            """
            SELECT \(Self.jobJSON) AS job FROM kg_api.jobs
            WHERE job_id = $1::uuid AND ($2::text IS NULL OR username = $2)
            """, [jobID, username]
        ).first("job")
    }

    /// The API JSON of recent jobs, newest first. `idPrefix` (lower-case hex
    /// and dashes only; the caller checks) keeps the jobs whose id starts with it.
    public func listJSON(username: String?, status: String?, idPrefix: String? = nil, limit: Int = 100) throws -> [String] {
        try db.query(
            """
            SELECT \(Self.jobJSON) AS job FROM kg_api.jobs
            WHERE ($1::text IS NULL OR username = $1) AND ($2::text IS NULL OR status = $2)
              AND ($4::text IS NULL OR left(job_id::text, length($4)) = $4)
            ORDER BY created_at DESC LIMIT $3::int
            """, [username, status, String(limit), idPrefix]
        ).rows.compactMap { $0[0] }
    }

    public func state(jobID: String) throws -> JobState? {
        let r = try db.query(
            """
            SELECT job_type, status, params::text AS params, attempts, worker_id, temp_file, error,
                   result::text AS result, username,
                   extract(epoch FROM (clock_timestamp() - heartbeat_at)) AS heartbeat_age
            FROM kg_api.jobs WHERE job_id = $1::uuid
            """, [jobID])
        guard let row = r.namedRows.first else { return nil }
        return JobState(
            jobID: jobID,
            type: row["job_type"] ?? "",
            status: row["status"] ?? "",
            params: row["params"] ?? "{}",
            attempts: row.decode("attempts", as: Int.self) ?? 0,
            workerID: row["worker_id"],
            tempFile: row["temp_file"],
            error: row["error"],
            result: row["result"],
            username: row["username"] ?? "",
            heartbeatAge: row.decode("heartbeat_age", as: Double.self))
    }

    /// Takes a queued job for `workerID`; nil when the job is not queued any more.
    public func claim(jobID: String, workerID: String) throws -> JobState? {
        let r = try db.query(
            """
            UPDATE kg_api.jobs SET status = 'running', worker_id = $2, attempts = attempts + 1,
                started_at = coalesce(started_at, clock_timestamp()), heartbeat_at = clock_timestamp(),
                progress = '{"stage": "starting", "percent": 0}'
            WHERE job_id = $1::uuid AND status = 'queued'
            RETURNING job_id
            """, [jobID, workerID])
        guard !r.isEmpty else { return nil }
        return try state(jobID: jobID)
    }

    /// Takes over a running job whose previous worker is gone.
    public func takeOver(jobID: String, workerID: String) throws -> JobState? {
        let r = try db.query(
            """
            UPDATE kg_api.jobs SET worker_id = $2, attempts = attempts + 1, heartbeat_at = clock_timestamp()
            WHERE job_id = $1::uuid AND status = 'running' RETURNING job_id
            """, [jobID, workerID])
        guard !r.isEmpty else { return nil }
        return try state(jobID: jobID)
    }

    /// Records progress and a heartbeat; returns the current status (to notice
    /// cancellation), or `taken_over` when another worker now holds the job.
    @discardableResult
    public func progress(jobID: String, progressJSON: String, workerID: String? = nil) throws -> String? {
        try db.query(
            """
            UPDATE kg_api.jobs SET progress = $2::jsonb, heartbeat_at = clock_timestamp()
            WHERE job_id = $1::uuid AND ($3::text IS NULL OR worker_id = $3) RETURNING status
            """, [jobID, progressJSON, workerID]
        ).first("status") ?? (workerID == nil ? nil : "taken_over")
    }

    /// A heartbeat alone; returns the current status, or `taken_over` when another worker now holds the job.
    @discardableResult
    public func heartbeat(jobID: String, workerID: String? = nil) throws -> String? {
        try db.query(
            """
            UPDATE kg_api.jobs SET heartbeat_at = clock_timestamp()
            WHERE job_id = $1::uuid AND ($2::text IS NULL OR worker_id = $2) RETURNING status
            """, [jobID, workerID]
        ).first("status") ?? (workerID == nil ? nil : "taken_over")
    }

    /// Moves a non-terminal job to `completed`; false when it had already ended (e.g. cancelled),
    /// or when `workerID` is given and another worker has taken the job over.
    @discardableResult
    public func complete(jobID: String, resultJSON: String, progressJSON: String, workerID: String? = nil) throws -> Bool {
        !(try db.query(
            """
            UPDATE kg_api.jobs SET status = 'completed', result = $2::jsonb, progress = $3::jsonb,
                completed_at = clock_timestamp(), heartbeat_at = clock_timestamp()
            WHERE job_id = $1::uuid AND status IN ('queued', 'running') AND ($4::text IS NULL OR worker_id = $4)
            RETURNING job_id
            """, [jobID, resultJSON, progressJSON, workerID]
        ).isEmpty)
    }

    /// Moves a non-terminal job to `failed` with `error`; false when it had already ended,
    /// or when `workerID` is given and another worker has taken the job over.
    @discardableResult
    public func fail(jobID: String, error: String, progressJSON: String? = nil, workerID: String? = nil) throws -> Bool {
        !(try db.query(
            """
            UPDATE kg_api.jobs SET status = 'failed', error = $2, completed_at = clock_timestamp(),
                progress = coalesce($3::jsonb, progress)
            WHERE job_id = $1::uuid AND status IN ('queued', 'running') AND ($4::text IS NULL OR worker_id = $4)
            RETURNING job_id
            """, [jobID, error, progressJSON, workerID]
        ).isEmpty)
    }

    /// Moves a job that is still `queued` (no worker has it) to `failed`; false otherwise.
    @discardableResult
    public func failQueued(jobID: String, error: String) throws -> Bool {
        !(try db.query(
            """
            UPDATE kg_api.jobs SET status = 'failed', error = $2, completed_at = clock_timestamp()
            WHERE job_id = $1::uuid AND status = 'queued' RETURNING job_id
            """, [jobID, error]
        ).isEmpty)
    }

    /// The application name of a worker's connections for a job, so that a hung
    /// holder's sessions can be found and ended (PostgreSQL keeps 63 characters).
    public static func applicationName(jobID: String, role: String) -> String {
        "kgw:\(jobID):\(role)"
    }

    /// Ends every session of a hung holder of `jobID` (its transaction rolls back,
    /// its locks go); returns how many.
    @discardableResult
    public func terminateHolder(jobID: String) throws -> Int {
        try db.query(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name LIKE $1 AND pid <> pg_backend_pid()
            """, ["kgw:\(jobID):%"]
        ).rows.count
    }

    /// Moves a non-terminal job to `cancelled`; false when it had already ended.
    @discardableResult
    public func cancel(jobID: String, reason: String) throws -> Bool {
        !(try db.query(
            """
            UPDATE kg_api.jobs SET status = 'cancelled', error = $2, completed_at = clock_timestamp()
            WHERE job_id = $1::uuid AND status IN ('queued', 'running') RETURNING job_id
            """, [jobID, reason]
        ).isEmpty)
    }

    /// SQL that is true while some session holds the job lock of the job id `column`
    /// (``tryLock(jobID:)``): the lock is the job's lease, and PostgreSQL ends it the
    /// moment its holder's session ends (a killed worker), whatever the row says.
    public static func jobLockHeld(_ column: String) -> String {
        """
        EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(\(column), 0))
        """
    }

    /// Whether a live session holds `jobID`'s job lock (a worker is running it now).
    public func isHeld(jobID: String) throws -> Bool {
        try db.query("SELECT \(Self.jobLockHeld("$1::text")) AS held", [jobID]).first("held") == "t"
    }

    /// `running` jobs nobody holds any more (no job lock) whose last heartbeat is older
    /// than `staleAfter` seconds: their worker is gone and no redelivery took them over.
    /// Their heartbeat is set to now, so that each is handed back once per `staleAfter`.
    public func claimUnheldRunningJobs(staleAfter: Double) throws -> [(jobID: String, type: String)] {
        try db.query(
            """
            UPDATE kg_api.jobs j SET heartbeat_at = clock_timestamp()
            WHERE status = 'running' AND heartbeat_at < clock_timestamp() - make_interval(secs => $1::float8)
              AND NOT \(Self.jobLockHeld("j.job_id::text"))
            RETURNING job_id::text, job_type
            """, [String(staleAfter)]
        ).rows.compactMap { row in
            guard let id = row[0], let type = row[1] else { return nil }
            return (id, type)
        }
    }

    /// A session-level advisory lock that marks a job as held by this connection's
    /// process; PostgreSQL releases it when the process dies.
    public func tryLock(jobID: String) throws -> Bool {
        try db.query("SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS ok", [jobID]).first("ok") == "t"
    }

    public func unlock(jobID: String) throws {
        try db.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [jobID])
    }
}

/// What a worker or the gateway needs to know about a job's row.
public struct JobState: Sendable {
    public let jobID: String
    public let type: String
    public let status: String
    public let params: String
    public let attempts: Int
    public let workerID: String?
    public let tempFile: String?
    public let error: String?
    public let result: String?
    public let username: String
    /// Seconds since the holder's last heartbeat.
    public let heartbeatAge: Double?

    public var isTerminal: Bool { status == "completed" || status == "failed" || status == "cancelled" }
}
