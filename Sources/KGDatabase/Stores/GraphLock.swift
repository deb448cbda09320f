import Foundation

/// "A risky graph operation is running": a session-level advisory lock that a
/// worker holds on its data connection for a whole risky job (checkpoint,
/// operation, integrity check, rollback). Restores also take the same key as a
/// transaction-level lock (re-entrant in one session). PostgreSQL releases it
/// when the holder's session ends, so a dead worker releases what it held.
/// Backups never take it.
public struct GraphLock {
    /// One key for the whole graph (also `RestoreSQL.graphWriteLockKey`).
    public static let key = "7420190002"

    public let db: PGConnection

    public init(_ db: PGConnection) { self.db = db }

    public func tryAcquire() throws -> Bool {
        try db.query("SELECT pg_try_advisory_lock($1::bigint) AS ok", [Self.key]).first("ok") == "t"
    }

    public func release() throws {
        try db.query("SELECT pg_advisory_unlock($1::bigint)", [Self.key])
    }

    /// Who holds the lock: the job (found through its worker's application name
    /// `kgw:<job>:data`) with its type and user, or nil when nobody holds it.
    public func holder() throws -> Holder? {
        let r = try db.query(
            """
            SELECT a.application_name AS app, j.job_id::text AS job_id, j.job_type, j.username
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            LEFT JOIN kg_api.jobs j ON a.application_name LIKE 'kgw:%' AND j.job_id::text = split_part(a.application_name, ':', 2)
            WHERE l.locktype = 'advisory' AND l.granted
              AND ((l.classid::bigint << 32) | l.objid::bigint) = $1::bigint AND l.objsubid = 1
              AND l.pid <> pg_backend_pid()
            LIMIT 1
            """, [Self.key])
        guard let app = r.first("app") else { return nil }
        return Holder(jobID: r.first("job_id"), jobType: r.first("job_type"), username: r.first("username"), application: app)
    }

    /// The operation holding the lock.
    public struct Holder: Sendable, CustomStringConvertible {
        public let jobID: String?
        public let jobType: String?
        public let username: String?
        public let application: String

        /// `restore 9f… by alice` (or the session's name when it is not a job).
        public var description: String {
            guard let jobID else { return application.isEmpty ? "another session" : application }
            return "\((jobType ?? "job").replacingOccurrences(of: "_", with: " ")) \(jobID)" + (username.map { " by \($0)" } ?? "")
        }
    }
}
