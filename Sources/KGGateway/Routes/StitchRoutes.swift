import Foundation
import Hummingbird
import KGDatabase
import KGFormat
import KGService
import Logging

/// `POST /admin/stitch`: JSON `{"references"?: [{"concept_id", "label"?, "embedding"?}], "threshold"?, "dry_run"?,
/// "checkpoint"?, "keep_checkpoint"?, "no_wait"?}` → 202 `{"job_id", "status"}`. The references (labels and
/// embeddings of the missing concepts, read from a reference backup by the CLI) make label and embedding
/// matching possible; without them only ids match.
///
/// The body is streamed like an upload (``StitchBodyReceiver``): authenticated and limited before it is
/// read (`max_stitch_bytes`, the user's `max_jobs_per_user`), checked as it arrives with one reference in
/// memory, stored as `stitch_<job>.json`, which the job owns and its worker reads.
struct StitchRoutes {
    let pool: PGPool
    let jobs: JobSubmitter
    let storage: TempStorage
    /// `max_stitch_bytes`: the references carry embeddings.
    let maxBytes: Int
    let audit: AuditTrail
    let logger: Logger

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/admin/stitch") { request, context -> Response in
            try await audit.refusals(context, action: "stitch") { try await submit(request, context) }
        }
    }

    private func submit(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireAdmin()
        if let encoding = request.headers[.contentEncoding], encoding.lowercased() != "identity" {
            throw APIError(
                .unsupportedMediaType, "the stitch request must be plain JSON: Content-Encoding \(encoding) is not accepted",
                detail: "send the body uncompressed (up to \(maxBytes) bytes, max_stitch_bytes)")
        }
        try APIError.refuseDeclaredLength(of: request, over: maxBytes, "the stitch request", setting: "max_stitch_bytes")
        // Refuse before reading the body when the user is already at the limit.
        try await jobs.refuseIfAtLimit(username: user.username)
        let jobID = UUID()
        let id = jobID.uuidString.lowercased()
        let path = storage.stitchPath(jobID: jobID)
        let received = try await StitchBodyReceiver(path: path, maxBytes: maxBytes).receive(request.body)
        // From here `<path>.partial` exists when the body has references: removed on every path that does not queue the job.
        do {
            return try await queue(context, user: user, received: received, jobID: id, path: path)
        } catch {
            if received.stored { await FileCalls.unlink(path + ".partial", path) }
            throw error
        }
    }

    private func queue(
        _ context: GatewayRequestContext, user: AuthenticatedUser, received: StitchBodyReceiver.Received,
        jobID id: String, path: String
    ) async throws -> Response {
        let options = received.options
        if let threshold = options.threshold, !(threshold > 0 && threshold <= 1) {
            throw APIError.badRequest("threshold must be above 0 and at most 1, got \(threshold)")
        }
        if options.keepCheckpoint == true && options.checkpoint == false {
            throw APIError.badRequest("keep_checkpoint needs a checkpoint", detail: "leave out checkpoint: false")
        }
        if options.noWait == true { try await RiskyFields.refuseIfBusy(pool: pool, operation: "stitch") }
        let file = received.stored ? path : nil
        let params = StitchJobParams(
            references: [], threshold: options.threshold, dryRun: options.dryRun ?? false,
            checkpoint: options.checkpoint, keepCheckpoint: options.keepCheckpoint, noWait: options.noWait,
            referencesFile: file, referenceCount: options.references)
        // The row first, then the file under the name the row owns, then the message.
        try await jobs.submit(
            jobID: id, type: "stitch", username: user.username, params: params, tempFile: file,
            beforePublish: file.map { path in { try await UploadReceiver.publish(path) } })
        await audit.record(
            context, actor: user.username, action: "stitch", target: id, outcome: AuditLog.Outcome.accepted,
            detail: "\(options.references) references, \(received.bytes) bytes" + (params.dryRun ? ", dry run" : ""))
        logger.info(
            "stitch queued",
            metadata: [
                "job_id": "\(id)", "user": "\(user.username)", "references": "\(options.references)",
                "bytes": "\(received.bytes)",
            ])
        return try JSON.response(encoding: JobAccepted(jobID: id, status: "queued"), status: .accepted)
    }
}
