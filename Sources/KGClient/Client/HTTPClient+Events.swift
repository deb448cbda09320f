import CCurl
import Foundation

extension HTTPClient {
    /// Follows a Server-Sent Events stream (GET with `Accept: text/event-stream`),
    /// calling `onEvent` as each event completes. Returns when the server ends
    /// the stream or `onEvent` returns false.
    ///
    /// A non-2xx answer throws `HTTPClientError.http`; a stream cut off
    /// mid-way (connection lost) throws `.transferInterrupted`, so a caller
    /// can reconnect with a `Last-Event-ID` header from the last event's `id`.
    public func streamEvents(
        path: String,
        headers: [String: String] = [:],
        onEvent: (ServerSentEvent) throws -> Bool
    ) throws {
        let easy = try makeTransfer(
            path: path,
            defaultHeaders: [("Accept", "text/event-stream"), ("Cache-Control", "no-cache")],
            headers: headers,
            totalTimeout: nil)
        try setMethod("GET", body: nil, on: easy)

        try withoutActuallyEscaping(onEvent) { onEvent in
            let state = TransferState(cancellation: cancellation)
            var parser = ServerSentEventParser()
            var success = false
            var errorBody = Data()
            state.onHead = { status, _ in success = (200..<300).contains(status) }
            state.onBody = { chunk in
                guard success else {
                    if errorBody.count < 1 << 20 { errorBody.append(contentsOf: chunk) }
                    return true
                }
                return try parser.feed(chunk, emit: onEvent)
            }
            try perform(easy, state)
            guard success else {
                throw HTTPResponse(status: state.status, headers: state.headers, body: errorBody).failure
            }
        }
    }
}
