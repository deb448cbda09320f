import Foundation

/// A complete, buffered HTTP response (for small requests).
///
/// ```swift
/// let job = try client.request(method: "GET", path: "/jobs/\(id)")
///     .requireSuccess()
///     .decodeJSON(Job.self)
/// ```
public struct HTTPResponse: Sendable {
    public let status: Int
    /// Header names are lower-cased; repeated headers are joined with ", ".
    public let headers: [String: String]
    public let body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// Decodes the body as JSON.
    public func decodeJSON<T: Decodable>(_ type: T.Type = T.self, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try decoder.decode(T.self, from: body)
    }

    /// The gateway's error text from a `{"error": "...", "detail": ...}` body:
    /// "error: detail" (a non-string detail is shown as compact JSON), or nil
    /// when the body has no such shape.
    public var errorMessage: String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return nil }
        let error = (object["error"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let detail = object["detail"].flatMap(Self.describeDetail)
        switch (error, detail) {
        case let (error?, detail?): return "\(error): \(detail)"
        case let (error?, nil): return error
        case let (nil, detail?): return detail
        case (nil, nil): return nil
        }
    }

    /// Returns self when the status is 2xx, else throws `HTTPClientError.http`.
    @discardableResult
    public func requireSuccess() throws(HTTPClientError) -> HTTPResponse {
        guard isSuccess else { throw failure }
        return self
    }

    /// The `.http` error that describes this response.
    var failure: HTTPClientError {
        .http(status: status, message: errorMessage ?? bodySnippet ?? "", body: body)
    }

    /// The start of a non-JSON text body (an HTML error page from a proxy, say).
    private var bodySnippet: String? {
        guard !body.isEmpty, let text = String(data: body.prefix(300), encoding: .utf8) else { return nil }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return nil }
        return body.count > 300 ? trimmed + "…" : trimmed
    }

    private static func describeDetail(_ detail: Any) -> String? {
        switch detail {
        case is NSNull:
            return nil
        case let text as String:
            return text.isEmpty ? nil : text
        default:
            guard JSONSerialization.isValidJSONObject(detail),
                let data = try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys]),
                let text = String(data: data, encoding: .utf8)
            else { return "\(detail)" }
            return text.count > 500 ? String(text.prefix(500)) + "…" : text
        }
    }
}
