import Foundation
import Hummingbird
import KGDatabase

/// `POST /admin/users/{name}/revoke-tokens`: an admin ends every session of a user
/// (a lost laptop, a leaver). The user's next request gets 401 and must log in again.
struct AdminUserRoutes {
    let pool: PGPool
    let audit: AuditTrail

    struct Revoked: Encodable { let username: String; let revoked: Int }

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/admin/users/:name/revoke-tokens") { _, context -> Response in
            // The router matches the raw path: a name the client percent-encoded is decoded here.
            let raw = try context.parameters.require("name")
            let name = raw.removingPercentEncoding ?? raw
            let admin = try await audit.refusals(context, action: "tokens.revoke", target: name) {
                try context.requireAdmin()
            }
            guard name.utf8.count <= 200 else { throw APIError.badRequest("user name too long") }
            let revoked: Int? = try await pool.run { db in
                let users = UserStore(db)
                guard try users.exists(username: name) else { return nil }
                return try users.revokeAll(username: name)
            }
            guard let revoked else {
                await audit.record(
                    context, actor: admin.username, action: "tokens.revoke", target: name,
                    outcome: AuditLog.Outcome.refused, detail: "no such user")
                throw APIError(.notFound, "user \(name) not found", detail: "list users with `kg-gateway user list`")
            }
            await audit.record(
                context, actor: admin.username, action: "tokens.revoke", target: name,
                outcome: AuditLog.Outcome.success, detail: "\(revoked) token(s) revoked")
            return try JSON.response(encoding: Revoked(username: name, revoked: revoked))
        }
    }
}
