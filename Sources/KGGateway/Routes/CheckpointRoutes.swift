import Foundation
import HTTPTypes
import Hummingbird
import KGDatabase
import KGFormat
import KGService
import Logging
import NIOCore
import NIOPosix

/// `GET /admin/checkpoints` (the kept checkpoints, newest first),
/// `GET /admin/checkpoints/{id}` (one checkpoint file, streamed like a backup,
/// with `Content-Disposition`) and `POST /admin/checkpoints/{id}/restore` (puts
/// a kept checkpoint back on purpose: a replace restore of its file, itself a
/// risky job with its own checkpoint). Admin role only.
struct CheckpointRoutes {
    let pool: PGPool
    let jobs: JobSubmitter
    let audit: AuditTrail
    let logger: Logger

    static let chunkSize = 256 * 1024

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/admin/checkpoints") { _, context -> Response in
            _ = try context.requireAdmin()
            let rows = try await pool.run { db in try CheckpointStore(db).listJSON() }
            return JSON.response("{\"checkpoints\":[" + rows.joined(separator: ",") + "]}")
        }

        router.post("/admin/checkpoints/:id/restore") { request, context -> Response in
            try await audit.refusals(context, action: "checkpoint.restore") {
                try await restore(request, context)
            }
        }

        router.get("/admin/checkpoints/:id") { _, context -> Response in
            let user = try context.requireAdmin()
            let id = try context.parameters.require("id").lowercased()
            guard let kept = try await pool.run({ db in try CheckpointStore(db).kept(checkpointID: id) }) else {
                throw APIError.notFound("checkpoint \(id)")
            }
            let fd = try await FileCalls.open(kept.path, O_RDONLY | O_CLOEXEC).fd
            guard fd >= 0 else {
                throw APIError(
                    .gone, "the file of checkpoint \(id) is gone from temp storage",
                    detail: "\(kept.fileName) was removed outside kg; `kg admin checkpoints list` shows the others")
            }
            let size = await FileCalls.size(fd) ?? 0
            let eventLoop = context.channel.eventLoop
            await audit.record(
                context, actor: user.username, action: "checkpoint.download", target: id,
                outcome: AuditLog.Outcome.accepted, detail: "\(kept.fileName), \(size) bytes")
            logger.info("checkpoint download", metadata: ["checkpoint_id": "\(id)", "user": "\(user.username)", "bytes": "\(size)"])
            return Response(
                status: .ok,
                headers: [
                    .contentType: "application/json",
                    .contentDisposition: ContentDisposition.attachment(filename: kept.fileName),
                    .contentLength: String(size),
                    .cacheControl: "no-store",
                ],
                body: ResponseBody { writer in
                    writer = PacedBodyWriter(writer, eventLoop: eventLoop)  // a few chunks ahead of the client, not a file's worth
                    do {
                        try await Self.send(fd: fd, size: size, to: &writer)
                    } catch {
                        await FileCalls.close(fd)
                        throw error
                    }
                    await FileCalls.close(fd)
                })
        }
    }

    /// Streams `size` bytes of the open checkpoint file, reading on NIO's thread pool.
    private static func send(fd: Int32, size: Int, to writer: inout any ResponseBodyWriter) async throws {
        var offset = 0
        while offset < size {
            guard let chunk = try await FileCalls.readChunk(fd, at: offset, upTo: min(Self.chunkSize, size - offset)) else {
                throw APIError(.internalServerError, "the checkpoint file ended early")
            }
            offset += chunk.readableBytes
            try await writer.write(chunk)
        }
        try await writer.finish(nil)
    }

    /// Queues a replace restore of a kept checkpoint's file (the file stays where it is).
    private func restore(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireAdmin()
        let id = try context.parameters.require("id").lowercased()
        let options = try await SurgeryRoutes.options(request)
        if options.keep_checkpoint == true && options.checkpoint == false {
            throw APIError.badRequest("keep_checkpoint needs a checkpoint", detail: "leave out checkpoint: false")
        }
        guard let kept = try await pool.run({ db in try CheckpointStore(db).kept(checkpointID: id) }) else {
            throw APIError.notFound("checkpoint \(id)")
        }
        let size: Int? = try await NIOThreadPool.singleton.runIfActive {
            (try? FileManager.default.attributesOfItem(atPath: kept.path)[.size] as? NSNumber)?.intValue
        }
        guard let size else {
            throw APIError(
                .gone, "the file of checkpoint \(id) is gone from temp storage",
                detail: "\(kept.fileName) was removed outside kg; `kg admin checkpoints list` shows the others")
        }
        if options.no_wait == true { try await RiskyFields.refuseIfBusy(pool: pool, operation: "checkpoint restore") }
        var params = RestoreJobParams(
            mode: .replace, dryRun: options.dry_run ?? false, externalDeps: .fail, tempFile: kept.path,
            fileName: kept.fileName, fileBytes: size, backupType: "full_backup", ontology: nil,
            statistics: [:], checkpoint: options.checkpoint ?? !(options.dry_run ?? false),
            keepCheckpoint: options.keep_checkpoint, noWait: options.no_wait)
        params.sourceCheckpoint = id
        let jobID = UUID().uuidString.lowercased()
        try await jobs.submit(jobID: jobID, type: "restore", username: user.username, params: params, tempFile: nil)
        await audit.record(
            context, actor: user.username, action: "checkpoint.restore", target: jobID, outcome: AuditLog.Outcome.accepted,
            detail: "checkpoint \(id), \(kept.fileName), \(size) bytes\(params.dryRun ? ", dry run" : "")")
        logger.info("checkpoint restore queued", metadata: ["job_id": "\(jobID)", "checkpoint_id": "\(id)", "user": "\(user.username)"])
        return try JSON.response(encoding: JobAccepted(jobID: jobID, status: "queued"), status: .accepted)
    }
}
