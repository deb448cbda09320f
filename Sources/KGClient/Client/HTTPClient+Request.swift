import CCurl
import Foundation

extension HTTPClient {
    /// A small request whose response is read into memory. Returns the
    /// response whatever its status; `requireSuccess()` turns a non-2xx
    /// status into `HTTPClientError.http`.
    ///
    /// `body` is sent as `application/json`; `Accept: application/json` is
    /// sent unless `headers` says otherwise. Bounded by `requestTimeout`.
    public func request(
        method: String,
        path: String,
        json body: Data? = nil,
        headers: [String: String] = [:]
    ) throws -> HTTPResponse {
        var defaults = [("Accept", "application/json")]
        if body != nil { defaults.append(("Content-Type", "application/json")) }
        let easy = try makeTransfer(path: path, defaultHeaders: defaults, headers: headers, totalTimeout: requestTimeout)
        try setMethod(method, body: body, on: easy)

        let state = TransferState(cancellation: cancellation)
        var received = Data()
        state.onBody = { chunk in
            received.append(contentsOf: chunk)
            return true
        }
        try perform(easy, state)
        return HTTPResponse(status: state.status, headers: state.headers, body: received)
    }
}
