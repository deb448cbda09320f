import Foundation
import Hummingbird
import KGDatabase
import KGFormat
import Logging

/// Restores that start while their upload arrives (issue 15; docs/DESIGN.md "Restores that start
/// while the upload arrives"). Once a resumable upload's metadata is in (a plain file, at least
/// `restore_pipeline_min_bytes` long, metadata before `data`), the gateway queues its restore job
/// with ``RestoreJobParams/pipelined``: a worker loads the upload's data file into staging as it
/// grows, inside its transaction, and waits before anything touches the graph. When the last byte
/// is in and the gateway's check of the whole upload passed, ``accept(_:dataPath:report:)`` hands
/// the file to the job (`upload_accepted` in its row); the upload then ends as any other does.
/// A job that ended or gave the upload up (it stalled) is not accepted: the caller queues a new
/// restore, as for an upload that was never pipelined.
struct RestorePipeline {
    let restore: RestoreRoutes
    /// `restore_pipeline_min_bytes`: shorter uploads (and every upload when negative) wait for their last byte.
    let minBytes: Int

    private var pool: PGPool { restore.pool }

    /// Whether `session` may get a pipelined restore at all.
    func applies(to session: UploadSession) -> Bool {
        minBytes >= 0 && session.size >= minBytes
    }

    /// Queues the pipelined restore of `session` from its header; returns its job id, or nil when the
    /// restore must wait for the whole upload (a plan the database refuses, the job limit, an error:
    /// the upload's own end then answers as it always did).
    ///
    /// `remember` records the job's id in the session before the job exists: a gateway that dies
    /// in between leaves a session naming no job (another starts), never a job no session names
    /// (which would hold a worker, and the graph, until it stalled).
    func start(
        _ session: UploadSession, dataPath: String, header: BackupHeaderPeek, user: AuthenticatedUser,
        remember: (String) async throws -> Void
    ) async -> String? {
        let metadata = header.metadata
        let schemaVersion = metadata["schema_version"]?.intValue
        let fromThisSystem = metadata["producer"]?["name"]?.stringValue == "kg"
        let backupType = metadata["type"]?.stringValue
        var statistics: [String: Int] = [:]
        if case .object(let members)? = metadata["statistics"] {
            for member in members { statistics[member.key] = member.value.intValue }
        }
        let job = restore.newJob(for: user)
        var logger = job.logger
        logger[metadataKey: "upload_id"] = "\(session.id)"
        do {
            let databaseVersion = try await pool.run { db in try MigrationRunner(connection: db).currentVersion() }
            let plan = RestorePlan.make(backupVersion: schemaVersion, fromThisSystem: fromThisSystem, databaseVersion: databaseVersion)
            if plan.refusal != nil { return nil }
            let fields = session.fields
            let (mode, externalDeps) = try RestoreRoutes.modeAndDeps(fields, backupType: backupType)
            var params = RestoreJobParams(
                mode: mode, dryRun: ["true", "1", "yes"].contains(fields["dry_run"]?.lowercased() ?? "false"),
                externalDeps: externalDeps, tempFile: dataPath, fileName: session.fileName, fileBytes: session.size,
                backupType: backupType, ontology: metadata["ontology"]?.stringValue, statistics: statistics,
                checkpoint: try RiskyFields.flag(fields, "checkpoint"), keepCheckpoint: try RiskyFields.flag(fields, "keep_checkpoint"),
                noWait: try RiskyFields.flag(fields, "no_wait"))
            params.pipelined = true
            try await remember(job.id)
            // No temp file in the row: the bytes stay the upload's until they are accepted.
            try await restore.jobs.submit(jobID: job.id, type: "restore", username: user.username, params: params, tempFile: nil)
            logger.info("restore queued while its upload arrives", metadata: ["bytes": "\(session.size)", "mode": "\(mode.rawValue)"])
            return job.id
        } catch {
            logger.notice("restore not pipelined; it waits for the whole upload: \(error)")
            return nil
        }
    }

    /// Whether `jobID` no longer stands for the upload: it gave the upload up (it stalled) or is gone.
    /// A job that runs, or that failed or was cancelled on its own account, stays the upload's answer.
    func replaceable(_ jobID: String) async -> Bool {
        let stalled: String?
        do {
            stalled = try await pool.run { db in
                try db.query(
                    "SELECT coalesce((params->>'upload_stalled')::boolean, false)::text AS stalled FROM kg_api.jobs WHERE job_id = $1::uuid",
                    [jobID]
                ).first("stalled")
            }
        } catch {
            return false  // the database away: keep the job
        }
        return stalled == nil || stalled == "true"
    }

    /// The status of `jobID` when it ended, or is ending, on its own account (failed, or cancelled by
    /// a user: its worker released the upload) rather than by giving the upload up; nil otherwise
    /// (also when it is gone).
    func ended(_ jobID: String) async -> String? {
        try? await pool.run { db in
            try db.query(
                """
                SELECT status FROM kg_api.jobs WHERE job_id = $1::uuid
                  AND (status IN ('failed', 'cancelled') OR coalesce((params->>'upload_released')::boolean, false))
                  AND NOT coalesce((params->>'upload_stalled')::boolean, false)
                """, [jobID]
            ).first("status")
        }
    }

    /// The whole upload passed the gateway's check: the pipelined job takes the file (moved to its
    /// own name, `restore_<job>.json`, and recorded in its row). False when the job is no longer
    /// there to take it (the file is then back at `dataPath`).
    func accept(_ jobID: String, dataPath: String) async throws -> Bool {
        guard let uuid = UUID(uuidString: jobID) else { return false }
        let path = restore.storage.restorePath(jobID: uuid)
        do {
            try await FileCalls.rename(dataPath, path)
        } catch {
            throw APIError(.internalServerError, "cannot store the upload", detail: "\(error)")
        }
        let accepted = (try? await pool.run { db in try JobStore(db).acceptUpload(jobID: jobID, tempFile: path) }) ?? false
        if !accepted { try? await FileCalls.rename(path, dataPath) }
        return accepted
    }

    /// The upload was refused (an invalid file) or abandoned: its pipelined job stops, nothing changed.
    func cancel(_ jobID: String, reason: String) async {
        _ = try? await pool.run { db in try JobStore(db).cancel(jobID: jobID, reason: reason) }
    }
}
