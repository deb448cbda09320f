import Hummingbird
import KGDatabase
import Logging

/// The gateway's side of the audit trail: records requests with the caller's
/// name and address. A failure to write a row is logged at error level and does
/// not fail the request (the database being down fails the request anyway).
struct AuditTrail: Sendable {
    let pool: PGPool
    let logger: Logger

    func record(
        _ context: GatewayRequestContext, actor: String?, action: String, target: String? = nil,
        outcome: String, detail: String? = nil
    ) async {
        let address = context.remoteAddress
        do {
            try await pool.run { db in
                try AuditLog.record(
                    db, actor: actor, action: action, target: target, outcome: outcome,
                    remoteAddress: address, detail: detail)
            }
        } catch {
            logger.error(
                "could not write an audit row",
                metadata: [
                    "action": "\(action)", "actor": "\(actor ?? "-")", "outcome": "\(outcome)", "error": "\(error)",
                ])
        }
    }

    /// Runs `body` (the part of a request that decides whether it is accepted) and
    /// records a refusal with the error's message when it throws.
    func refusals<T>(
        _ context: GatewayRequestContext, action: String, target: String? = nil,
        _ body: () async throws -> T
    ) async throws -> T {
        do {
            return try await body()
        } catch {
            let detail: String
            if let error = error as? APIError {
                detail = "\(error.status.code) \(error.message)" + (error.detail.map { ": \($0)" } ?? "")
            } else {
                detail = "\(error)"
            }
            await record(
                context, actor: context.user?.username, action: action, target: target,
                outcome: AuditLog.Outcome.refused, detail: detail)
            throw error
        }
    }
}
