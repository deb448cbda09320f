import Foundation
import Hummingbird
import NIOCore

/// An error answered as JSON `{"error": "…", "detail": …}` with its HTTP status.
struct APIError: HTTPResponseError {
    let status: HTTPResponse.Status
    let message: String
    let detail: String?
    /// Detail that is already JSON (an integrity report), sent as an object.
    var detailJSON: String?
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, detail: String? = nil) {
        self.status = status
        self.message = message
        self.detail = detail
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The JSON body: `{"error": …, "detail": …}`.
    var body: [UInt8] {
        var body: [UInt8] = []
        body.append(contentsOf: "{\"error\":".utf8)
        JSON.appendQuoted(message, to: &body)
        body.append(contentsOf: ",\"detail\":".utf8)
        if let detailJSON {
            body.append(contentsOf: detailJSON.utf8)
        } else if let detail {
            JSON.appendQuoted(detail, to: &body)
        } else {
            body.append(contentsOf: "null".utf8)
        }
        body.append(UInt8(ascii: "}"))
        return body
    }

    static func unauthorized(_ detail: String) -> APIError {
        var error = APIError(.unauthorized, "not authenticated", detail: detail)
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }

    static func forbidden(_ detail: String) -> APIError { APIError(.forbidden, "not permitted", detail: detail) }
    static func notFound(_ what: String) -> APIError { APIError(.notFound, "\(what) not found") }
    static func badRequest(_ message: String, detail: String? = nil) -> APIError { APIError(.badRequest, message, detail: detail) }
    static func unavailable(_ message: String, detail: String? = nil) -> APIError { APIError(.serviceUnavailable, message, detail: detail) }
}
