import CCurl
import Foundation

extension HTTPClient {
    /// Streams a response body to `onData`, chunk by chunk; nothing is buffered.
    ///
    /// - `onResponseHead` runs once, before the first body byte, for a 2xx
    ///   response (read `content-disposition` and `x-job-id` there).
    /// - A non-2xx response is read into memory and thrown as
    ///   `HTTPClientError.http`; `onResponseHead` and `onData` never see it.
    /// - A body cut short (connection closed before the last chunk or before
    ///   Content-Length bytes) throws `HTTPClientError.transferInterrupted`.
    /// - An error thrown by a handler aborts the transfer and is rethrown as is.
    /// - `onProgress` gets body bytes so far and the Content-Length if known;
    ///   it runs often: throttle display there.
    @discardableResult
    public func download(
        method: String = "GET",
        path: String,
        json body: Data? = nil,
        headers: [String: String] = [:],
        onResponseHead: (_ status: Int, _ headers: [String: String]) throws -> Void = { _, _ in },
        onData: (UnsafeRawBufferPointer) throws -> Void,
        onProgress: (_ received: Int64, _ expected: Int64?) -> Void = { _, _ in }
    ) throws -> DownloadResult {
        try withoutActuallyEscaping(onResponseHead) { onResponseHead in
            try withoutActuallyEscaping(onData) { onData in
                try withoutActuallyEscaping(onProgress) { onProgress in
                    try streamDownload(
                        method: method, path: path, body: body, headers: headers,
                        onResponseHead: onResponseHead, onData: onData, onProgress: onProgress)
                }
            }
        }
    }

    private func streamDownload(
        method: String,
        path: String,
        body: Data?,
        headers: [String: String],
        onResponseHead: @escaping (Int, [String: String]) throws -> Void,
        onData: @escaping (UnsafeRawBufferPointer) throws -> Void,
        onProgress: @escaping (Int64, Int64?) -> Void
    ) throws -> DownloadResult {
        let defaults = body != nil ? [("Content-Type", "application/json")] : []
        let easy = try makeTransfer(path: path, defaultHeaders: defaults, headers: headers, totalTimeout: nil)
        try setMethod(method, body: body, on: easy)

        let state = TransferState(cancellation: cancellation)
        let errorBodyLimit = 1 << 20
        var success = false
        var errorBody = Data()
        var received: Int64 = 0
        var expected: Int64?
        var reported: Int64 = -1

        state.onHead = { status, headers in
            success = (200..<300).contains(status)
            guard success else { return }
            expected = headers["content-length"].flatMap { Int64($0) }
            try onResponseHead(status, headers)
        }
        state.onBody = { chunk in
            if success {
                received += Int64(chunk.count)
                try onData(chunk)
                // Reported per chunk too: libcurl's progress callback may come only
                // about once a second while the receiving thread is busy.
                reported = received
                onProgress(received, expected)
            } else if errorBody.count < errorBodyLimit {
                errorBody.append(contentsOf: chunk.prefix(errorBodyLimit - errorBody.count))
            }
            return true
        }
        state.onProgress = { _, _, _, _ in
            guard success, received != reported else { return }
            reported = received
            onProgress(received, expected)
        }
        try perform(easy, state)

        guard success else {
            throw HTTPResponse(status: state.status, headers: state.headers, body: errorBody).failure
        }
        if received != reported { onProgress(received, expected) }
        return DownloadResult(status: state.status, headers: state.headers, bytesReceived: received)
    }
}
