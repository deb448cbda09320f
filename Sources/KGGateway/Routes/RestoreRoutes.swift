import Foundation
import Hummingbird
import KGDatabase
import KGFormat
import KGService
import Logging
import NIOPosix

/// `POST /admin/restore`: a multipart upload, authenticated from the headers before
/// a byte of the body is read, streamed to temp storage and checked on the way (the
/// check on `checkPool`, off the cooperative pool). `POST /admin/backup/verify` is
/// ``VerifyRoutes``.
struct RestoreRoutes {
    let pool: PGPool
    let jobs: JobSubmitter
    let storage: TempStorage
    let maxUploadBytes: Int
    let maxDecompressedBytes: Int
    /// `id_check_memory_bytes`: the upload check's id facts spill to `storage` past it.
    let idCheckMemoryBytes: Int
    /// `upload_idle_timeout_s`: the janitor's patience with a `.partial` (see ``UploadReceiver``).
    let uploadIdleTimeout: Double
    /// Where uploads are parsed and checked (shared with ``VerifyRoutes``).
    let checkPool: NIOThreadPool
    let audit: AuditTrail
    let logger: Logger

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/admin/restore") { request, context -> Response in
            try await audit.refusals(context, action: "restore") {
                try await restore(request, context)
            }
        }
    }

    /// Receives, checks and queues a restore; every refusal throws (and is audited by the caller).
    private func restore(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireAdmin()
        let boundary = try Self.multipartBoundary(request, maxUploadBytes: maxUploadBytes)
        // Refuse before reading the body when the user is already at the limit.
        try await jobs.refuseIfAtLimit(username: user.username)
        // `?no_wait=true` refuses a busy graph before the upload is read (the
        // multipart field `no_wait` does the same, but only once the file is in).
        let noWaitInQuery = ["true", "1", "yes"].contains(request.uri.queryParameters.get("no_wait")?.lowercased() ?? "")
        if noWaitInQuery { try await RiskyFields.refuseIfBusy(pool: pool, operation: "restore") }
        let job = newJob(for: user)
        let (id, path, logger) = (job.id, job.path, job.logger)
        let received = try await UploadReceiver(
            boundary: boundary, path: path, maxBytes: maxUploadBytes,
            maxDecompressedBytes: maxDecompressedBytes,
            idCheckMemoryBytes: idCheckMemoryBytes, tempDirectory: storage.directory,
            bytesReceived: GatewayMetrics.bytesIn(.restore),
            leaseInterval: UploadReceiver.leaseInterval(idleTimeout: uploadIdleTimeout)
        )
        .receive(request.body, on: checkPool)
        // From here `<path>.partial` exists: removed on every path that does not queue a job.
        do {
            let accepted = try await queue(
                context, user: user, report: received.report, fields: received.fields,
                fileName: received.fileName, fileBytes: received.fileBytes, noWaitInQuery: noWaitInQuery,
                jobID: id, path: path, logger: logger)
            return try JSON.response(encoding: accepted, status: .accepted)
        } catch {
            await FileCalls.unlink(path + ".partial", path)
            throw error
        }
    }

    /// A new restore job's id, the temp path its file gets, and a logger whose every line about the upload
    /// and its job carries who and which job. Shared with the resumable uploads (``RestoreUploadRoutes``).
    func newJob(for user: AuthenticatedUser) -> (id: String, path: String, logger: Logger) {
        let jobID = UUID()
        let id = jobID.uuidString.lowercased()
        var logger = self.logger
        logger[metadataKey: "job_id"] = "\(id)"
        logger[metadataKey: "user"] = "\(user.username)"
        return (id, storage.restorePath(jobID: jobID), logger)
    }

    /// Checks the received upload's verdict and fields and queues its job (`path` + `.partial` becomes the
    /// job's `path`). Shared by the multipart route and the resumable upload sessions (``RestoreUploadRoutes``),
    /// so both give the same answers.
    func queue(
        _ context: GatewayRequestContext, user: AuthenticatedUser, report: IntegrityReport, fields: [String: String],
        fileName: String?, fileBytes: Int, noWaitInQuery: Bool, jobID id: String, path: String, logger: Logger,
        auditDetail: String = ""
    ) async throws -> RestoreAccepted {
        guard report.valid else {
            logger.notice("refused an invalid backup upload", metadata: ["errors": "\(report.errors.count)"])
            var error = APIError.badRequest("the backup is invalid: nothing was changed")
            error.detailJSON = report.jsonText()
            throw error
        }
        let databaseVersion = try await pool.run { db in try MigrationRunner(connection: db).currentVersion() }
        let plan = RestorePlan.make(
            backupVersion: report.schemaVersion, fromThisSystem: report.isFromThisSystem,
            databaseVersion: databaseVersion)
        if let refusal = plan.refusal {
            throw APIError(.conflict, refusal, detail: "nothing was changed")
        }
        let (mode, externalDeps) = try Self.modeAndDeps(fields, backupType: report.backupType)
        let dryRun = ["true", "1", "yes"].contains(fields["dry_run"]?.lowercased() ?? "false")
        let checkpoint = try RiskyFields.flag(fields, "checkpoint")
        let keepCheckpoint = try RiskyFields.flag(fields, "keep_checkpoint")
        let noWait = try RiskyFields.flag(fields, "no_wait") ?? noWaitInQuery
        if noWait { try await RiskyFields.refuseIfBusy(pool: pool, operation: "restore") }
        let params = RestoreJobParams(
            mode: mode, dryRun: dryRun, externalDeps: externalDeps, tempFile: path,
            fileName: fileName, fileBytes: fileBytes,
            backupType: report.backupType, ontology: report.ontology, statistics: report.counts,
            checkpoint: checkpoint, keepCheckpoint: keepCheckpoint, noWait: noWait)
        // The row first, then the file under the name the row owns, then the message.
        try await jobs.submit(jobID: id, type: "restore", username: user.username, params: params, tempFile: path) {
            try await UploadReceiver.publish(path)
        }
        await audit.record(
            context, actor: user.username, action: "restore", target: id, outcome: AuditLog.Outcome.accepted,
            detail: "mode \(mode.rawValue)\(dryRun ? ", dry run" : ""), file \(fileName ?? "-"), \(fileBytes) bytes\(auditDetail)")
        logger.info(
            "restore queued",
            metadata: [
                "mode": "\(mode.rawValue)",
                "dry_run": "\(dryRun)", "bytes": "\(fileBytes)",
            ])
        return RestoreAccepted(jobID: id, status: "queued", backupStats: report.counts, integrityWarnings: report.warnings.map(\.message))
    }

    /// The restore's `mode` and `external_deps` fields (the backup type's defaults when absent); 400 when unknown.
    static func modeAndDeps(_ fields: [String: String], backupType: String?) throws -> (RestoreMode, ExternalDepsStrategy) {
        let mode: RestoreMode
        if let text = fields["mode"], !text.isEmpty {
            guard let parsed = RestoreMode(rawValue: text) else {
                throw APIError.badRequest("unknown mode \"\(text)\"", detail: "use replace or merge")
            }
            mode = parsed
        } else {
            mode = RestoreMode.defaultFor(backupType: backupType)
        }
        let externalDeps: ExternalDepsStrategy
        if let text = fields["external_deps"], !text.isEmpty {
            guard let parsed = ExternalDepsStrategy(rawValue: text) else {
                throw APIError.badRequest(
                    "unknown external_deps \"\(text)\"",
                    detail: "one of: " + ExternalDepsStrategy.allCases.map(\.rawValue).joined(separator: ", "))
            }
            externalDeps = parsed
        } else {
            externalDeps = ExternalDepsStrategy.defaultFor(backupType: backupType)
        }
        return (mode, externalDeps)
    }

    static func multipartBoundary(_ request: Request, maxUploadBytes: Int) throws -> [UInt8] {
        guard let contentType = request.headers[.contentType], let boundary = MultipartBoundary.parse(contentType: contentType) else {
            throw APIError.badRequest(
                "send the backup as multipart/form-data with a `file` part",
                detail: "e.g. curl -F file=@backup.json")
        }
        try APIError.refuseDeclaredLength(of: request, over: maxUploadBytes, "the upload", setting: "max_upload_bytes")
        return boundary
    }
}
