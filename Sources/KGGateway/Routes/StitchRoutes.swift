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
struct StitchRoutes {
    let pool: PGPool
    let jobs: JobSubmitter
    let audit: AuditTrail
    let logger: Logger
    /// The references carry embeddings: up to this many bytes of JSON.
    static let maxBody = 256 * 1024 * 1024

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/admin/stitch") { request, context -> Response in
            try await audit.refusals(context, action: "stitch") { try await submit(request, context) }
        }
    }

    private func submit(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireAdmin()
        var request = request
        let buffer = try await request.collectBody(upTo: Self.maxBody)
        let params: StitchJobParams
        try JSON.refuseNUL(in: buffer)
        do {
            struct Body: Decodable {
                let references: [StitchReference]?
                let threshold: Double?
                let dry_run: Bool?
                let checkpoint: Bool?
                let keep_checkpoint: Bool?
                let no_wait: Bool?
            }
            let body = buffer.readableBytes == 0
                ? Body(references: nil, threshold: nil, dry_run: nil, checkpoint: nil, keep_checkpoint: nil, no_wait: nil)
                : try JSONDecoder().decode(Body.self, from: Data(buffer.readableBytesView))
            params = StitchJobParams(references: body.references ?? [], threshold: body.threshold, dryRun: body.dry_run ?? false,
                                     checkpoint: body.checkpoint, keepCheckpoint: body.keep_checkpoint, noWait: body.no_wait)
        } catch {
            throw APIError.badRequest("the request body is not the expected JSON",
                                      detail: "{\"references\"?, \"threshold\"?, \"dry_run\"?, \"checkpoint\"?, \"keep_checkpoint\"?, \"no_wait\"?}: \(error)")
        }
        if let threshold = params.threshold, !(threshold > 0 && threshold <= 1) {
            throw APIError.badRequest("threshold must be above 0 and at most 1, got \(threshold)")
        }
        if params.keepCheckpoint == true && params.checkpoint == false {
            throw APIError.badRequest("keep_checkpoint needs a checkpoint", detail: "leave out checkpoint: false")
        }
        if params.noWait == true { try await RiskyFields.refuseIfBusy(pool: pool, operation: "stitch") }
        let id = UUID().uuidString.lowercased()
        try await jobs.submit(jobID: id, type: "stitch", username: user.username, params: params, tempFile: nil)
        await audit.record(context, actor: user.username, action: "stitch", target: id, outcome: AuditLog.Outcome.accepted,
                           detail: "\(params.references.count) references" + (params.dryRun ? ", dry run" : ""))
        logger.info("stitch queued", metadata: ["job_id": "\(id)", "user": "\(user.username)", "references": "\(params.references.count)"])
        return try JSON.response(encoding: JobAccepted(jobID: id, status: "queued"), status: .accepted)
    }
}
