import Foundation
import Hummingbird
import KGFormat
import NIOCore

/// Small JSON helpers for responses.
enum JSON {
    static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        JSONEscaping.appendQuoted(text, to: &out)
    }

    /// A 200 (or `status`) response whose body is JSON text made elsewhere (often by PostgreSQL).
    static func response(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func response<T: Encodable>(encoding value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: status, headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// Reads a small JSON request body (at most `limit` bytes) and decodes it.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = 64 * 1024) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch {
            throw APIError(.contentTooLarge, "request body too large", detail: "at most \(limit) bytes of JSON")
        }
        // U+0000 cannot reach the database (libpq would cut the text short at it, so
        // "admin\u0000x" would name the user admin): refused here, naming the field.
        if let value = try? JSONValue.parse(String(decoding: buffer.readableBytesView, as: UTF8.self)),
           let path = value.pathToNUL {
            let field = path.hasPrefix(".") ? String(path.dropFirst()) : path.isEmpty ? "the body" : path
            throw APIError.badRequest("the field \(field) holds the character U+0000 (\\u0000), which is not allowed",
                                      detail: field)
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest("invalid JSON body", detail: "\(error)")
        }
    }
}
