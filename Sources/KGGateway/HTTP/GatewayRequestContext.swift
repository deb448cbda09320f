import Hummingbird
import NIOCore

/// The per-request context: Hummingbird's core storage plus the authenticated user.
struct GatewayRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var user: AuthenticatedUser?
    /// The client's address (the audit trail's "from where"): the peer's, or the one
    /// a trusted proxy forwarded (`ForwardedForMiddleware`).
    var remoteAddress: String?
    /// The request's connection: ``AuthMiddleware`` tells its ``RequestDeadlineHandler``
    /// that an upload is authenticated.
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
        channel = source.channel
    }

    /// The user, or 401.
    func requireUser() throws -> AuthenticatedUser {
        guard let user else { throw APIError.unauthorized("send Authorization: Bearer <token> (get one with `kg login`)") }
        return user
    }

    /// The user when an admin, else 403.
    func requireAdmin() throws -> AuthenticatedUser {
        let user = try requireUser()
        guard user.isAdmin else {
            throw APIError.forbidden("\(user.username) has role \(user.role); this needs the admin role")
        }
        return user
    }
}

/// Who made a request.
struct AuthenticatedUser: Sendable {
    let username: String
    let role: String
    var isAdmin: Bool { role == "admin" }
}
