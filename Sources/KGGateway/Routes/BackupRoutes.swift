import Foundation
import HTTPTypes
import Hummingbird
import KGDatabase
import KGFormat
import KGService
import Logging

/// `POST /admin/backup`: creates the job, publishes it, and streams the file
/// back as the worker writes it. With `backup_resume_window_s` > 0 the response
/// says where to continue (`X-Resume-URL`, ``BackupFileRoutes``) if it breaks.
struct BackupRoutes {
    let pool: PGPool
    let jobs: JobSubmitter
    let storage: TempStorage
    let heartbeatTimeout: Double
    /// `backup_resume_window_s`: > 0 keeps the file for `GET /jobs/{id}/backup` (``BackupFileRoutes``).
    var resumeWindow = 0.0
    let audit: AuditTrail
    let logger: Logger
    /// Status events: the stream sees its job end as soon as the worker says so.
    var hub: StatusHub? = nil

    struct BackupRequest: Decodable {
        let backup_type: String
        let ontology_name: String?
        let compression: String?
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/admin/backup") { request, context -> Response in
            let (user, id, params, compression) = try await audit.refusals(context, action: "backup") {
                try await accept(request, context)
            }
            let detail = params.backupType == .ontology ? "ontology \(params.ontologyName ?? "")" : "full"
            await audit.record(
                context, actor: user.username, action: "backup", target: id,
                outcome: AuditLog.Outcome.accepted, detail: detail + (compression == .none ? "" : ", \(compression.rawValue)"))
            // Every line about this job carries who and which job.
            var logger = self.logger
            logger[metadataKey: "job_id"] = "\(id)"
            logger[metadataKey: "user"] = "\(user.username)"
            logger.info("backup queued", metadata: ["type": "\(params.backupType.rawValue)"])

            let streamer = BackupStreamer(
                jobID: id, path: params.tempFile, pool: pool,
                heartbeatTimeout: heartbeatTimeout, logger: logger,
                eventLoop: context.channel.eventLoop, keepsFile: resumeWindow > 0, hub: hub)
            var headers: HTTPFields = [
                .contentType: compression.contentType,
                .contentDisposition: ContentDisposition.attachment(filename: params.fileName),
                HTTPField.Name("X-Job-Id")!: id,
                .cacheControl: "no-store",
            ]
            if resumeWindow > 0 {
                // Where the rest is, by ranges, if this stream breaks (and for how long).
                headers[.acceptRanges] = "bytes"
                headers[HTTPField.Name("X-Resume-URL")!] = "/jobs/\(id)/backup"
                headers[HTTPField.Name("X-Resume-Window")!] = String(Int(resumeWindow))
            }
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in try await streamer.stream(to: &writer) })
        }
    }

    /// Checks the request and queues the job; every refusal throws (and is audited by the caller).
    private func accept(_ request: Request, _ context: GatewayRequestContext) async throws
        -> (AuthenticatedUser, String, BackupJobParams, BackupCompression)
    {
        let user = try context.requireAdmin()
        let body = try await JSON.decode(BackupRequest.self, from: request)
        guard let type = BackupType(rawValue: body.backup_type) else {
            throw APIError.badRequest("unknown backup_type \"\(body.backup_type)\"", detail: "use \"full\" or \"ontology\"")
        }
        guard let compression = BackupCompression(rawValue: body.compression ?? "none") else {
            throw APIError.badRequest("unknown compression \"\(body.compression ?? "")\"", detail: "use \"none\", \"gzip\" or \"zstd\"")
        }
        var ontology: String?
        if type == .ontology {
            guard let name = body.ontology_name, !name.isEmpty else {
                throw APIError.badRequest("an ontology backup needs ontology_name", detail: "list ontologies with `kg ontology list`")
            }
            guard name.utf8.count <= 512, !name.contains("\0") else {
                throw APIError.badRequest("invalid ontology name")
            }
            let missing = try await pool.run { db -> APIError? in
                try db.query("SELECT 1 FROM kg.ontologies WHERE name = $1", [name]).isEmpty
                    ? try OntologyRoutes.notFound(name, db: db) : nil
            }
            if let missing { throw missing }
            ontology = name
        }

        let jobID = UUID()
        let id = jobID.uuidString.lowercased()
        let params = BackupJobParams(
            backupType: type, ontologyName: ontology, compression: compression.rawValue,
            fileName: BackupFileName.make(type: type, ontology: ontology, date: Date(), compression: compression),
            tempFile: storage.backupPath(jobID: jobID, compression: compression))
        try await jobs.submit(jobID: id, type: "backup", username: user.username, params: params, tempFile: params.tempFile)
        return (user, id, params, compression)
    }
}

/// RFC 6266 `Content-Disposition` for a download.
enum ContentDisposition {
    static func attachment(filename: String) -> String {
        let ascii = String(
            filename.unicodeScalars.map { scalar -> Character in
                scalar.isASCII && scalar.value >= 0x20 && scalar != "\"" && scalar != "\\" ? Character(scalar) : "_"
            })
        let encoded = filename.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? ascii
        return "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
    }
}
