import Foundation

/// The `kg_api.checkpoints` table: the checkpoint files that workers make
/// before risky operations, and which of them are kept for inspection.
/// The checkpoint id is the id of the job that made it.
public struct CheckpointStore {
    public let db: PGConnection

    public init(_ db: PGConnection) { self.db = db }

    static let rowJSON = """
        json_build_object('checkpoint_id', checkpoint_id, 'job_id', job_id, 'job_type', job_type, 'user', username,
            'file_name', file_name, 'bytes', bytes, 'status', status, 'reason', reason,
            'created_at', created_at, 'kept_at', kept_at)::text
        """

    /// Records a complete checkpoint file for a running job (`ready`); a retried job replaces its row.
    public func recordReady(jobID: String, jobType: String, username: String, fileName: String, path: String, bytes: Int) throws {
        try db.query(
            """
            INSERT INTO kg_api.checkpoints (checkpoint_id, job_id, job_type, username, file_name, path, bytes, status)
            VALUES ($1::uuid, $1::uuid, $2, $3, $4, $5, $6::bigint, 'ready')
            ON CONFLICT (checkpoint_id) DO UPDATE SET file_name = $4, path = $5, bytes = $6::bigint, status = 'ready',
                reason = NULL, created_at = now(), kept_at = NULL
            """, [jobID, jobType, username, fileName, path, String(bytes)])
    }

    /// Puts back the rows an older version saved beside its checkpoint, when its file
    /// could not carry them (inside a checkpoint restore's transaction, on `db`).
    public func restoreUnrepresentableRows(checkpointID: String) throws {
        try db.query(
            """
            INSERT INTO kg.ontologies (name) SELECT key FROM kg_api.checkpoint_rows
            WHERE checkpoint_id = $1::uuid AND kind = 'ontology' ON CONFLICT DO NOTHING
            """, [checkpointID])
        try db.query(
            """
            INSERT INTO kg.instances (instance_id, quote, source_id) SELECT key, quote, source_id FROM kg_api.checkpoint_rows
            WHERE checkpoint_id = $1::uuid AND kind = 'instance' ON CONFLICT DO NOTHING
            """, [checkpointID])
    }

    /// Marks a checkpoint kept, with why. (Versions before one-transaction risky
    /// operations also wrote `rollback_failed`; such rows are still listed.)
    public func keep(checkpointID: String, reason: String) throws {
        try db.query(
            """
            UPDATE kg_api.checkpoints SET status = 'kept', reason = $2, kept_at = now() WHERE checkpoint_id = $1::uuid
            """, [checkpointID, reason])
    }

    /// Forgets a checkpoint (its file is removed by the caller).
    public func delete(checkpointID: String) throws {
        try db.query("DELETE FROM kg_api.checkpoints WHERE checkpoint_id = $1::uuid", [checkpointID])
    }

    /// The file of a `ready` checkpoint left by an earlier attempt of `jobID` (its worker died mid-operation).
    public func readyPath(jobID: String) throws -> String? {
        try db.query("SELECT path FROM kg_api.checkpoints WHERE checkpoint_id = $1::uuid AND status = 'ready'", [jobID]).first("path")
    }

    /// Kept checkpoints beyond the newest `keep`: their rows are deleted; returns their paths (to remove).
    /// `sparing` (a checkpoint being restored) is never removed.
    public func enforceRetention(keep: Int, sparing: String? = nil) throws -> [String] {
        try db.query(
            """
            DELETE FROM kg_api.checkpoints WHERE checkpoint_id IN (
                SELECT checkpoint_id FROM kg_api.checkpoints WHERE status <> 'ready'
                ORDER BY kept_at DESC, created_at DESC OFFSET $1::int)
              AND ($2::uuid IS NULL OR checkpoint_id <> $2::uuid)
            RETURNING path
            """, [String(max(0, keep)), sparing]
        ).rows.compactMap { $0[0] }
    }

    /// The API JSON of the kept checkpoints, newest first.
    public func listJSON() throws -> [String] {
        try db.query(
            """
            SELECT \(Self.rowJSON) AS c FROM kg_api.checkpoints WHERE status <> 'ready' ORDER BY kept_at DESC, created_at DESC
            """
        ).rows.compactMap { $0[0] }
    }

    /// A kept checkpoint's file name and path, or nil.
    public func kept(checkpointID: String) throws -> (fileName: String, path: String)? {
        guard UUID(uuidString: checkpointID) != nil else { return nil }
        let r = try db.query(
            """
            SELECT file_name, path FROM kg_api.checkpoints WHERE checkpoint_id = $1::uuid AND status <> 'ready'
            """, [checkpointID])
        guard let name = r.first("file_name"), let path = r.first("path") else { return nil }
        return (name, path)
    }

    /// Whether a checkpoint file must stay: it is a kept checkpoint, or a worker holds
    /// its job now (the job lock, ``JobStore/jobLockHeld(_:)``: writing it, or running the
    /// operation it guards). The row's status alone does not decide: a job cancelled
    /// in its row may still be running on its worker. Also true while a worker runs a
    /// job that reads a kept checkpoint.
    public func isLive(path: String, jobID: String) throws -> Bool {
        guard UUID(uuidString: jobID) != nil else { return false }
        return
            !(try db.query(
                """
                SELECT 1 WHERE \(JobStore.jobLockHeld("$2::text"))
                UNION ALL
                SELECT 1 FROM kg_api.checkpoints WHERE path = $1 AND status <> 'ready'
                """, [path, jobID]
            ).isEmpty)
    }

    /// Forgets a `ready` checkpoint whose job nobody holds (its worker died after the
    /// commit, before removing it); the janitor removes the file.
    public func forgetUnheld(jobID: String) throws {
        try db.query(
            """
            DELETE FROM kg_api.checkpoints WHERE checkpoint_id = $1::uuid AND status = 'ready' AND NOT \(JobStore.jobLockHeld("$1::text"))
            """, [jobID])
    }
}
