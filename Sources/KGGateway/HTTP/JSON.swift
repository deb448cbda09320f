import Foundation
import Hummingbird
import KGFormat
import NIOCore

/// Small JSON helpers for responses.
enum JSON {
    static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        JSONEscaping.appendQuoted(text, to: &out)
    }

    /// `"text"` (escaped), or `null`.
    static func quoteOrNull(_ text: String?) -> String {
        guard let text else { return "null" }
        var out: [UInt8] = []
        appendQuoted(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A 200 (or `status`) response whose body is JSON text made elsewhere (often by PostgreSQL).
    static func response(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func response<T: Encodable>(encoding value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// U+0000 cannot reach the database (libpq would cut the text short at it, so
    /// "admin\u0000x" would name the user admin): a 400 naming the field ("username",
    /// "references[0].concept_id"). Every JSON body route calls this before decoding.
    static func refuseNUL(in buffer: ByteBuffer) throws {
        guard buffer.readableBytesView.contains(UInt8(ascii: "\\")) || buffer.readableBytesView.contains(0),
            let value = try? JSONValue.parse(String(decoding: buffer.readableBytesView, as: UTF8.self)),
            let path = value.pathToNUL
        else { return }
        let field = path.hasPrefix(".") ? String(path.dropFirst()) : path.isEmpty ? "the body" : path
        throw APIError.badRequest("the field \(field) holds the character U+0000 (\\u0000), which is not allowed", detail: field)
    }

    /// Reads a small JSON request body (at most `limit` bytes) and decodes it.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = 64 * 1024) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "request body too large", detail: "at most \(limit) bytes of JSON")
        }
        try refuseNUL(in: buffer)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest("invalid JSON body", detail: "\(error)")
        }
    }
}
