import Hummingbird

/// Counts every request by matched route pattern (`/jobs/{id}`, never the raw
/// path, so ids do not multiply the series), method and status. Counted when
/// the handler answers: a streamed body (a backup) is left exactly as it is.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let method = request.method.rawValue
        do {
            let response = try await next(request, context)
            GatewayMetrics.request(route: context.endpointPath ?? "unmatched", method: method, status: Int(response.status.code)).increment()
            return response
        } catch {
            let status = (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500
            GatewayMetrics.request(route: context.endpointPath ?? "unmatched", method: method, status: status).increment()
            throw error
        }
    }
}
