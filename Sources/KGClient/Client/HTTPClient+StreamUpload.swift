import CCurl
import Foundation

extension HTTPClient {
    /// Sends `source` as the raw body of a `method` request (`PATCH` for a resumable upload's
    /// range), read while sending (memory does not grow with the body). Returns the response
    /// whatever its status. `onProgress` gets the body bytes sent and `source.size`.
    public func uploadStream(
        method: String,
        path: String,
        source: UploadSource,
        headers: [String: String] = [:],
        onProgress: (_ sent: Int64, _ total: Int64) -> Void = { _, _ in }
    ) throws -> HTTPResponse {
        let easy = try makeTransfer(
            path: path,
            defaultHeaders: [
                ("Accept", "application/json"),
                ("Content-Type", "application/offset+octet-stream"),
            ],
            headers: headers, totalTimeout: nil)
        try easy.set(CURLOPT_UPLOAD, 1)
        try easy.set(CURLOPT_CUSTOMREQUEST, method)
        try easy.set(CURLOPT_INFILESIZE_LARGE, offset: Int(source.size))
        try easy.set(CURLOPT_UPLOAD_BUFFERSIZE, 512 * 1024)
        let read: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = { buffer, size, count, context in
            guard let buffer, let context else { return Int(CURL_READFUNC_ABORT) }
            let source = Unmanaged<UploadSource>.fromOpaque(context).takeUnretainedValue()
            return source.fill(UnsafeMutableRawBufferPointer(start: buffer, count: size * count))
        }
        guard kg_curl_setopt_read(easy.handle, read) == CURLE_OK else { throw HTTPClientError.invalidRequest("cannot set the upload reader") }
        try easy.set(CURLOPT_READDATA, pointer: Unmanaged.passUnretained(source).toOpaque())

        do {
            return try withoutActuallyEscaping(onProgress) { onProgress in
                let state = TransferState(cancellation: cancellation)
                var received = Data()
                var reported: Int64 = -1
                state.onBody = { chunk in
                    received.append(contentsOf: chunk)
                    return true
                }
                state.onProgress = { _, _, _, sent in
                    guard sent != reported else { return }
                    reported = sent
                    onProgress(sent, source.size)
                }
                try withExtendedLifetime(source) { try perform(easy, state) }
                return HTTPResponse(status: state.status, headers: state.headers, body: received)
            }
        } catch {
            if let failure = source.failure { throw failure }
            throw error
        }
    }
}
