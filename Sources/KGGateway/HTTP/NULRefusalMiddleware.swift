import Hummingbird
import KGDatabase

/// Refuses U+0000 in the path and query parameters (`%00`) with a 400 naming the
/// parameter, and turns the database layer's refusal of a bound text holding it
/// (``PGError/isNULInText``) into a 400 as well: libpq passes C strings, so such a
/// text would otherwise be cut short at the NUL (a different user, job or name).
/// JSON bodies are checked where they are decoded (`JSON.decode`), naming the field.
struct NULRefusalMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.holdsEncodedNUL(request.uri.path) {
            throw APIError.badRequest("the path holds the character U+0000 (%00), which is not allowed", detail: "path")
        }
        if let query = request.uri.query, Self.holdsEncodedNUL(query) {
            let field =
                query.split(separator: "&").first { Self.holdsEncodedNUL(String($0)) }
                .map { String($0.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") } ?? "query"
            throw APIError.badRequest(
                "the query parameter \(field) holds the character U+0000 (%00), which is not allowed",
                detail: field)
        }
        do {
            return try await next(request, context)
        } catch let error as PGError where error.isNULInText {
            throw APIError.badRequest("a value holds the character U+0000, which is not allowed", detail: error.message)
        }
    }

    static func holdsEncodedNUL(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count >= 3 else { return bytes.contains(0) }
        for i in 0..<(bytes.count - 2)
        where bytes[i] == UInt8(ascii: "%") && bytes[i + 1] == UInt8(ascii: "0")
            && bytes[i + 2] == UInt8(ascii: "0")
        {
            return true
        }
        return bytes.contains(0)
    }
}
