import Hummingbird
import KGDatabase

/// Authenticates every request from its headers, before any handler reads the
/// body: a request without a valid bearer token is answered 401 at once.
/// Only liveness, readiness, metrics and the login endpoint are open.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let pool: PGPool

    static let openPaths: Set<String> = ["/healthz", "/readyz", "/metrics", "/auth/token", "/schema"]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.openPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("send Authorization: Bearer <token> (get one with `kg login`)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw APIError.unauthorized("the Authorization header must be `Bearer <token>`")
        }
        let token = String(parts[1])
        guard token.count <= 256 else { throw APIError.unauthorized("invalid token") }
        let found: (username: String, role: String)?
        let reason: String?
        do {
            (found, reason) = try await pool.run { db -> ((username: String, role: String)?, String?) in
                let users = UserStore(db)
                if let user = try users.authenticate(token: token) { return (user, nil) }
                return (nil, try users.refusalReason(token: token))
            }
        } catch {
            throw APIError.unavailable("database unavailable", detail: "\(error)")
        }
        guard let found else {
            // Expired and revoked tokens say so; unknown ones say no more than that.
            throw APIError.unauthorized("\(reason ?? "the token is invalid, expired or revoked"): log in again with `kg login`")
        }
        // Only now may an upload's body take longer than http_request_timeout_s.
        if RequestDeadlineHandler.isUpload(request.head) {
            context.channel.triggerUserOutboundEvent(RequestDeadlineHandler.UploadAuthenticated(), promise: nil)
        }
        var context = context
        context.user = AuthenticatedUser(username: found.username, role: found.role)
        return try await next(request, context)
    }
}
