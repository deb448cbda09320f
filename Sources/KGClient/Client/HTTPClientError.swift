import Foundation

/// Why an `HTTPClient` call failed, worded for the person running the CLI.
///
/// ```swift
/// do { try client.request(method: "GET", path: "/jobs").requireSuccess() }
/// catch HTTPClientError.unreachable { exit(3) }
/// catch let error as HTTPClientError where [401, 403].contains(error.httpStatus) { exit(4) }
/// ```
public enum HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible, LocalizedError {
    /// No connection could be made: refused, unknown host, or connect timeout.
    case unreachable(url: String, message: String)
    /// The connection broke or stalled before the response was complete.
    case transferInterrupted(String)
    /// The gateway answered with a non-2xx status.
    case http(status: Int, message: String, body: Data)
    /// TLS handshake or certificate verification failed.
    case tls(String)
    /// `HTTPClient.cancel()` was called.
    case cancelled
    /// The request could not be made as asked (bad URL, unreadable upload file, libcurl setup).
    case invalidRequest(String)

    /// The HTTP status of an `.http` error, else nil.
    public var httpStatus: Int? {
        if case .http(let status, _, _) = self { return status }
        return nil
    }

    public var description: String {
        switch self {
        case .unreachable(let url, let message):
            return "cannot reach the kg gateway at \(url): \(message) — is the gateway running and is api_url right?"
        case .transferInterrupted(let message):
            return "the transfer was interrupted: \(message)"
        case .http(let status, let message, _):
            var text = "the gateway answered \(status) \(Self.reason(status))"
            if !message.isEmpty { text += ": \(message)" }
            switch status {
            case 401: text += " — log in again: the token is missing, invalid or expired"
            case 403: text += " — this account is not allowed to do that (backup and restore need the admin role)"
            default: break
            }
            return text
        case .tls(let message):
            return "TLS failed: \(message) — check the gateway's certificate, or the CA certificate the client is told to trust"
        case .cancelled:
            return "cancelled"
        case .invalidRequest(let message):
            return message
        }
    }

    public var errorDescription: String? { description }

    static func reason(_ status: Int) -> String {
        switch status {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 413: "Payload Too Large"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 300..<400: "Redirect"
        case 400..<500: "Client Error"
        case 500..<600: "Server Error"
        default: "Unexpected Status"
        }
    }
}
