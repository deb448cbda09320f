import Foundation
import Hummingbird
import KGDatabase
import KGFormat
import KGService
import Logging

/// `POST /admin/prune` and `POST /admin/ontology/delete`: graph surgery as
/// jobs through the queue, run under the checkpoint pattern by a worker.
/// Admin role only; 202 `{"job_id", "status": "queued"}`; with `no_wait`, 409
/// at once when another risky operation runs.
///
/// ```sh
/// curl -X POST -H "Authorization: Bearer $T" -d '{"dry_run": true}' $KG_API_URL/admin/prune
/// curl -X POST -H "Authorization: Bearer $T" -d '{"name": "Philosophy of Mind"}' $KG_API_URL/admin/ontology/delete
/// ```
struct SurgeryRoutes {
    let pool: PGPool
    let jobs: JobSubmitter
    let audit: AuditTrail
    let logger: Logger

    struct Options: Decodable {
        let name: String?
        let dry_run: Bool?
        let checkpoint: Bool?
        let keep_checkpoint: Bool?
        let no_wait: Bool?
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/admin/prune") { request, context -> Response in
            try await audit.refusals(context, action: "prune") {
                let user = try context.requireAdmin()
                let options = try await Self.options(request)
                return try await submit(.prune, options: options, ontology: nil, user: user.username, context: context)
            }
        }
        router.post("/admin/ontology/delete") { request, context -> Response in
            try await audit.refusals(context, action: "ontology_delete") {
                let user = try context.requireAdmin()
                let options = try await Self.options(request)
                guard let name = options.name, !name.isEmpty else {
                    throw APIError.badRequest("name the ontology to delete", detail: "{\"name\": \"…\"}")
                }
                guard name.utf8.count <= 512, !name.contains("\0") else { throw APIError.badRequest("invalid ontology name") }
                let missing = try await pool.run { db -> APIError? in
                    try db.query("SELECT 1 FROM kg.ontologies WHERE name = $1", [name]).isEmpty
                        ? try OntologyRoutes.notFound(name, db: db) : nil
                }
                if let missing { throw missing }
                return try await submit(.ontologyDelete, options: options, ontology: name, user: user.username, context: context)
            }
        }
    }

    /// The JSON body's options; an empty body means the defaults.
    static func options(_ request: Request) async throws -> Options {
        var request = request
        let buffer = try await request.collectBody(upTo: 64 * 1024)
        guard buffer.readableBytes > 0 else { return Options(name: nil, dry_run: nil, checkpoint: nil, keep_checkpoint: nil, no_wait: nil) }
        try JSON.refuseNUL(in: buffer)
        do {
            return try JSONDecoder().decode(Options.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest(
                "the request body is not the expected JSON",
                detail: "{\"name\"?, \"dry_run\"?, \"checkpoint\"?, \"keep_checkpoint\"?, \"no_wait\"?}: \(error)")
        }
    }

    private func submit(
        _ operation: GraphOperation, options: Options, ontology: String?, user: String,
        context: GatewayRequestContext
    ) async throws -> Response {
        if options.keep_checkpoint == true && options.checkpoint == false {
            throw APIError.badRequest("keep_checkpoint needs a checkpoint", detail: "leave out checkpoint: false")
        }
        if options.no_wait == true {
            try await RiskyFields.refuseIfBusy(pool: pool, operation: operation.rawValue.replacingOccurrences(of: "_", with: " "))
        }
        let params = GraphOperationParams(
            ontology: ontology, dryRun: options.dry_run ?? false, checkpoint: options.checkpoint,
            keepCheckpoint: options.keep_checkpoint, noWait: options.no_wait)
        let id = UUID().uuidString.lowercased()
        try await jobs.submit(jobID: id, type: operation.rawValue, username: user, params: params, tempFile: nil)
        await audit.record(
            context, actor: user, action: operation.rawValue, target: id, outcome: AuditLog.Outcome.accepted,
            detail: [
                ontology.map { "ontology \($0)" }, params.dryRun ? "dry run" : nil,
                options.checkpoint == false ? "no checkpoint" : nil,
            ].compactMap { $0 }.joined(separator: ", "))
        logger.info("\(operation.rawValue) queued", metadata: ["job_id": "\(id)", "user": "\(user)", "dry_run": "\(params.dryRun)"])
        return try JSON.response(encoding: JobAccepted(jobID: id, status: "queued"), status: .accepted)
    }
}
