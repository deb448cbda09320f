import Hummingbird
import KGDatabase

/// `POST /auth/token` (log in) and `GET /auth/whoami`.
struct AuthRoutes {
    let pool: PGPool
    let tokenTTLHours: Int
    let audit: AuditTrail

    struct Login: Decodable { let username: String; let password: String }
    struct TokenResponse: Encodable {
        let token: String
        let expires_at: String
        let username: String
        let role: String
    }
    struct WhoAmI: Encodable { let username: String; let role: String }

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/auth/token") { request, context -> Response in
            let login = try await JSON.decode(Login.self, from: request, limit: 16 * 1024)
            guard !login.username.isEmpty, login.username.count <= 200, login.password.count <= 1024 else {
                throw APIError.badRequest("username and password are required")
            }
            let ttl = tokenTTLHours * 3600
            let issued: (token: String, expiresAt: String, role: String)? = try await pool.run { db in
                let users = UserStore(db)
                guard let role = try users.verify(username: login.username, password: login.password) else { return nil }
                let token = try users.issueToken(username: login.username, ttlSeconds: ttl)
                return (token.token, token.expiresAt, role)
            }
            guard let issued else {
                await audit.record(context, actor: login.username, action: "login", outcome: AuditLog.Outcome.failure,
                                   detail: "invalid username or password")
                throw APIError.unauthorized("invalid username or password")
            }
            await audit.record(context, actor: login.username, action: "login", outcome: AuditLog.Outcome.success,
                               detail: "token expires \(issued.expiresAt)")
            return try JSON.response(encoding: TokenResponse(token: issued.token, expires_at: issued.expiresAt,
                                                            username: login.username, role: issued.role))
        }
        router.get("/auth/whoami") { _, context -> Response in
            let user = try context.requireUser()
            return try JSON.response(encoding: WhoAmI(username: user.username, role: user.role))
        }
        router.post("/auth/logout") { request, context -> Response in
            let user = try context.requireUser()
            let token = String(request.headers[.authorization]?.split(separator: " ").last ?? "")
            _ = try await pool.run { db in try UserStore(db).revoke(token: token) }
            await audit.record(context, actor: user.username, action: "logout", target: user.username,
                               outcome: AuditLog.Outcome.success, detail: "revoked this token")
            return JSON.response("{\"revoked\":true}")
        }
    }
}
