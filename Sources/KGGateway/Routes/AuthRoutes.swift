import Hummingbird
import KGDatabase
import Logging

/// `POST /auth/token` (log in), `GET /auth/whoami` and `POST /auth/logout`.
///
/// A login is throttled per client address and per user name (``LoginThrottle``:
/// 429 with `Retry-After`); the password is checked in the gateway against the
/// stored bcrypt hash, off the event loop (``PasswordVerifier``), and never sent to
/// the database. Unknown names cost the same bcrypt as known ones.
struct AuthRoutes {
    let pool: PGPool
    let tokenTTLHours: Int
    let audit: AuditTrail
    let throttle: LoginThrottle
    let verifier: PasswordVerifier

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
            // An address over its limit is refused before its body is read.
            do { try await throttle.check(address: context.remoteAddress) } catch let refusal as LoginThrottle.Refusal {
                throw APIError.loginThrottled(refusal)
            }
            let login = try await JSON.decode(Login.self, from: request, limit: 16 * 1024)
            guard !login.username.isEmpty, login.username.count <= 200, login.password.count <= 1024 else {
                throw APIError.badRequest("username and password are required")
            }
            do { try await throttle.begin(address: context.remoteAddress, username: login.username) } catch let refusal as LoginThrottle.Refusal {
                throw APIError.loginThrottled(refusal)
            }
            let role: String?
            do {
                role = try await verifier.verify(username: login.username, password: login.password)
            } catch is PasswordVerifier.Busy {
                var error = APIError.unavailable("too many logins in progress on this gateway; try again in a second")
                error.headers[.retryAfter] = "1"
                throw error
            } catch {
                throw APIError.unavailable("database unavailable", detail: "\(error)")
            }
            guard let role else {
                await audit.record(
                    context, actor: login.username, action: "login", outcome: AuditLog.Outcome.failure,
                    detail: "invalid username or password")
                throw APIError.unauthorized("invalid username or password")
            }
            await throttle.succeeded(address: context.remoteAddress, username: login.username)
            let ttl = tokenTTLHours * 3600
            let token = try await pool.run { db in try UserStore(db).issueToken(username: login.username, ttlSeconds: ttl) }
            await audit.record(
                context, actor: login.username, action: "login", outcome: AuditLog.Outcome.success,
                detail: "token expires \(token.expiresAt)")
            return try JSON.response(
                encoding: TokenResponse(
                    token: token.token, expires_at: token.expiresAt,
                    username: login.username, role: role))
        }
        router.get("/auth/whoami") { _, context -> Response in
            let user = try context.requireUser()
            return try JSON.response(encoding: WhoAmI(username: user.username, role: user.role))
        }
        router.post("/auth/logout") { request, context -> Response in
            let user = try context.requireUser()
            let token = String(request.headers[.authorization]?.split(separator: " ").last ?? "")
            _ = try await pool.run { db in try UserStore(db).revoke(token: token) }
            await audit.record(
                context, actor: user.username, action: "logout", target: user.username,
                outcome: AuditLog.Outcome.success, detail: "revoked this token")
            return JSON.response("{\"revoked\":true}")
        }
    }
}
