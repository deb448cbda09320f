import HTTPTypes
import Hummingbird
import KGService

/// Behind a reverse proxy: takes the client's address from `X-Forwarded-For` when
/// the peer is one of `trusted_proxies` (see ``ClientAddress``); otherwise the
/// header is ignored and the peer's address stands.
struct ForwardedForMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let trusted: TrustedProxies

    static let header = HTTPField.Name("X-Forwarded-For")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !trusted.isEmpty else { return try await next(request, context) }
        var context = context
        let forwarded = request.headers[values: Self.header].joined(separator: ",")
        context.remoteAddress = ClientAddress.resolve(
            peer: context.remoteAddress, forwardedFor: forwarded.isEmpty ? nil : forwarded,
            trusted: trusted)
        return try await next(request, context)
    }
}
