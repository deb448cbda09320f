import Foundation
import Hummingbird
import KGDatabase
import KGFormat
import Logging
import NIOPosix

/// `POST /admin/backup/verify` (any signed-in user): checks an uploaded backup and
/// answers the integrity report; nothing is stored. A check costs CPU in proportion
/// to the inflated file, so it is bounded before its body is read: per user
/// (`max_verifies_per_user`, 429) and per gateway (`max_concurrent_verifies`, 503),
/// both with `Retry-After`. The parsing runs on `checkPool` (a thread pool of
/// `max_concurrent_verifies` threads), not on the cooperative pool. Each check, and
/// each refusal, leaves an audit row (`backup.verify`).
struct VerifyRoutes {
    let slots: CheckSlots
    let checkPool: NIOThreadPool
    let maxUploadBytes: Int
    let maxDecompressedBytes: Int
    /// `id_check_memory_bytes`: the check's id facts spill to `tempDirectory` past it.
    let idCheckMemoryBytes: Int
    let tempDirectory: String
    let audit: AuditTrail
    let logger: Logger

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/admin/backup/verify") { request, context -> Response in
            try await audit.refusals(context, action: "backup.verify") { try await verify(request, context) }
        }
    }

    private func verify(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireUser()
        let boundary = try RestoreRoutes.multipartBoundary(request, maxUploadBytes: maxUploadBytes)
        if let refusal = slots.acquire(user: user.username) {
            logger.notice("refused a backup check (limit)", metadata: ["user": "\(user.username)", "limit": "\(refusal)"])
            throw APIError.tooManyChecks(refusal, username: user.username)
        }
        defer { slots.release(user: user.username) }
        let started = Date()
        let received = try await UploadReceiver(
            boundary: boundary, path: nil, maxBytes: maxUploadBytes,
            maxDecompressedBytes: maxDecompressedBytes,
            idCheckMemoryBytes: idCheckMemoryBytes, tempDirectory: tempDirectory,
            bytesReceived: GatewayMetrics.bytesIn(.verify)
        )
        .receive(request.body, on: checkPool)
        let report = received.report
        let seconds = String(format: "%.2f", Date().timeIntervalSince(started))
        await audit.record(
            context, actor: user.username, action: "backup.verify", target: nil, outcome: AuditLog.Outcome.completed,
            detail: "\(report.valid ? "valid" : "invalid (\(report.errors.count) errors)"), file \(received.fileName ?? "-"), "
                + "\(received.fileBytes) bytes, \(seconds) s")
        logger.info(
            "backup checked",
            metadata: [
                "user": "\(user.username)", "valid": "\(report.valid)",
                "bytes": "\(received.fileBytes)", "seconds": "\(seconds)",
            ])
        return JSON.response(report.jsonText())
    }
}
