import Foundation
import HTTPTypes
import Hummingbird
import KGDatabase
import KGService
import Logging
import NIOCore
import NIOPosix

/// `GET /admin/checkpoints` (the kept checkpoints, newest first) and
/// `GET /admin/checkpoints/{id}` (one checkpoint file, streamed like a backup,
/// with `Content-Disposition`). Admin role only.
struct CheckpointRoutes {
    let pool: PGPool
    let audit: AuditTrail
    let logger: Logger

    static let chunkSize = 256 * 1024

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/admin/checkpoints") { _, context -> Response in
            _ = try context.requireAdmin()
            let rows = try await pool.run { db in try CheckpointStore(db).listJSON() }
            return JSON.response("{\"checkpoints\":[" + rows.joined(separator: ",") + "]}")
        }

        router.get("/admin/checkpoints/:id") { _, context -> Response in
            let user = try context.requireAdmin()
            let id = try context.parameters.require("id").lowercased()
            guard let kept = try await pool.run({ db in try CheckpointStore(db).kept(checkpointID: id) }) else {
                throw APIError.notFound("checkpoint \(id)")
            }
            let fd = open(kept.path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw APIError(.gone, "the file of checkpoint \(id) is gone from temp storage",
                               detail: "\(kept.fileName) was removed outside kg; `kg admin checkpoints list` shows the others")
            }
            var info = stat()
            let size = fstat(fd, &info) == 0 ? Int(info.st_size) : 0
            await audit.record(context, actor: user.username, action: "checkpoint.download", target: id,
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
                    defer { close(fd) }
                    var offset = 0
                    while offset < size {
                        let at = offset
                        let chunk: ByteBuffer? = try await NIOThreadPool.singleton.runIfActive {
                            var buffer = ByteBufferAllocator().buffer(capacity: Self.chunkSize)
                            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.chunkSize) { ptr in
                                max(0, pread(fd, ptr.baseAddress, min(Self.chunkSize, size - at), off_t(at)))
                            }
                            return n > 0 ? buffer : nil
                        }
                        guard let chunk else { throw APIError(.internalServerError, "the checkpoint file ended early") }
                        offset += chunk.readableBytes
                        try await writer.write(chunk)
                    }
                    try await writer.finish(nil)
                })
        }
    }
}
