/// The audit trail (`kg_api.audit`, migration 005): who did what, when, from
/// where, and how it ended. Every value is a bound parameter.
///
/// Record an action where its outcome is known, in the caller's transaction
/// when there is one (a refused or rolled-back operation then leaves the row
/// of the refusal, written after the rollback):
///
/// ```swift
/// try AuditLog.record(db, actor: "alice", action: "stitch", target: "Philosophy of Mind",
///                     outcome: "completed", remoteAddress: nil, detail: "checkpoint cp_20261128_1015")
/// ```
///
/// Jobs need no call when they end: a trigger on `kg_api.jobs` writes
/// `<job_type>.finished` with the terminal status as outcome.
public enum AuditLog {
    /// Outcomes used across the service (free text is allowed; these keep filters simple).
    public enum Outcome {
        public static let success = "success"
        public static let failure = "failure"
        public static let accepted = "accepted"
        public static let refused = "refused"
        public static let completed = "completed"
        public static let failed = "failed"
        public static let cancelled = "cancelled"
    }

    /// Longest detail kept; longer text is cut (an error message, not a log).
    public static let maxDetailLength = 2000

    /// Writes one row.
    /// - Parameters:
    ///   - actor: the user name as given (a failed login may name no real user); nil for the system.
    ///   - action: what was done: `login`, `logout`, `tokens.revoke`, `backup`, `restore`, `stitch`, `prune`, …
    ///   - target: what it was done to: a job id, a user, an ontology, a checkpoint.
    ///   - outcome: see ``Outcome``.
    ///   - remoteAddress: the client's address as the gateway saw it; nil outside HTTP.
    ///   - detail: a short explanation (why it was refused, the error).
    public static func record(
        _ db: PGConnection, actor: String?, action: String, target: String? = nil,
        outcome: String, remoteAddress: String? = nil, detail: String? = nil
    ) throws {
        try db.query(
            """
            INSERT INTO kg_api.audit (actor, action, target, outcome, remote_address, detail)
            VALUES ($1, $2, $3, $4, $5, $6)
            """, [actor, action, target, outcome, remoteAddress, detail.map { String($0.prefix(maxDetailLength)) }])
    }

    /// Deletes rows older than `days` (`audit_retention_days`), oldest first, in
    /// batches of `batch` so that no single statement holds many row locks or a
    /// long transaction; returns how many went. Runs on the `at` index.
    @discardableResult
    public static func prune(_ db: PGConnection, olderThanDays days: Double, batch: Int = 5000) throws -> Int {
        var removed = 0
        while true {
            let n = try db.query(
                """
                DELETE FROM kg_api.audit WHERE audit_id IN (
                    SELECT audit_id FROM kg_api.audit WHERE at < now() - make_interval(secs => $1::double precision * 86400)
                    ORDER BY at LIMIT $2::int)
                """, [String(days), String(batch)]
            ).affectedRows
            removed += n
            if n < batch { return removed }
        }
    }

    /// Rows as API JSON objects (`id`, `at`, `actor`, `action`, `target`, `outcome`,
    /// `remote_address`, `detail`), newest first.
    /// - Parameters:
    ///   - actor: only this user's rows.
    ///   - action: only this action, or actions under it (`restore` matches `restore.finished`).
    ///   - sinceEpoch: only rows at or after this time (seconds since 1970).
    public static func listJSON(
        _ db: PGConnection, actor: String? = nil, action: String? = nil,
        sinceEpoch: Double? = nil, limit: Int = 100
    ) throws -> [String] {
        try db.query(
            """
            SELECT json_build_object('id', audit_id,
                'at', to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                'actor', actor, 'action', action, 'target', target, 'outcome', outcome,
                'remote_address', remote_address, 'detail', detail)::text AS row
            FROM kg_api.audit
            WHERE ($1::text IS NULL OR actor = $1)
              AND ($2::text IS NULL OR action = $2 OR left(action, length($2) + 1) = $2 || '.')
              AND ($3::float8 IS NULL OR at >= to_timestamp($3::float8))
            ORDER BY at DESC, audit_id DESC
            LIMIT $4::int
            """, [actor, action, sinceEpoch.map { String($0) }, String(limit)]
        ).rows.compactMap { $0[0] }
    }
}
