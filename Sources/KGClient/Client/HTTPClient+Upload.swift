import CCurl
import Foundation

extension HTTPClient {
    /// POSTs a multipart/form-data body: the text `fields`, then the file at
    /// `filePath` as part `fileField`, read from disk while sending (memory
    /// does not grow with the file). Returns the response whatever its status:
    /// the gateway explains a refused upload in the body.
    ///
    /// `onProgress` gets bytes sent and the whole body's size (multipart
    /// framing included); it runs often: throttle display there.
    public func uploadMultipart(
        path: String,
        fields: [(name: String, value: String)],
        fileField: String,
        filePath: String,
        fileName: String,
        contentType: String,
        headers: [String: String] = [:],
        onProgress: (_ sent: Int64, _ total: Int64) -> Void = { _, _ in }
    ) throws -> HTTPResponse {
        try uploadMultipart(
            path: path, fields: fields, fileField: fileField, file: .path(filePath), fileName: fileName,
            contentType: contentType, headers: headers, onProgress: onProgress)
    }

    /// The same with the file part from an ``UploadSource`` (bytes made while sending).
    public func uploadMultipart(
        path: String,
        fields: [(name: String, value: String)],
        fileField: String,
        source: UploadSource,
        fileName: String,
        contentType: String,
        headers: [String: String] = [:],
        onProgress: (_ sent: Int64, _ total: Int64) -> Void = { _, _ in }
    ) throws -> HTTPResponse {
        do {
            return try uploadMultipart(
                path: path, fields: fields, fileField: fileField, file: .source(source), fileName: fileName,
                contentType: contentType, headers: headers, onProgress: onProgress)
        } catch {
            if let failure = source.failure { throw failure }
            throw error
        }
    }

    private enum FilePart {
        case path(String)
        case source(UploadSource)
    }

    private func uploadMultipart(
        path: String,
        fields: [(name: String, value: String)],
        fileField: String,
        file: FilePart,
        fileName: String,
        contentType: String,
        headers: [String: String],
        onProgress: (_ sent: Int64, _ total: Int64) -> Void
    ) throws -> HTTPResponse {
        if case .path(let filePath) = file { try Self.checkReadable(filePath) }

        let easy = try makeTransfer(
            path: path, defaultHeaders: [("Accept", "application/json")], headers: headers, totalTimeout: nil)
        let mime = try CurlMime(easy: easy)
        for field in fields { try mime.addField(name: field.name, value: field.value) }
        switch file {
        case .path(let filePath): try mime.addFile(name: fileField, path: filePath, fileName: fileName, contentType: contentType)
        case .source(let source): try mime.addStream(name: fileField, source: source, fileName: fileName, contentType: contentType)
        }
        return try send(easy, mime, onProgress)
    }

    private static func checkReadable(_ filePath: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: filePath, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw HTTPClientError.invalidRequest("cannot upload \(filePath): no such file")
        }
        guard FileManager.default.isReadableFile(atPath: filePath) else {
            throw HTTPClientError.invalidRequest("cannot upload \(filePath): permission denied")
        }
    }

    private func send(_ easy: CurlEasy, _ mime: CurlMime, _ onProgress: (_ sent: Int64, _ total: Int64) -> Void) throws -> HTTPResponse {
        try easy.set(CURLOPT_MIMEPOST, pointer: UnsafeMutableRawPointer(mime.pointer))
        try easy.set(CURLOPT_UPLOAD_BUFFERSIZE, 512 * 1024)

        return try withoutActuallyEscaping(onProgress) { onProgress in
            let state = TransferState(cancellation: cancellation)
            var received = Data()
            var reported: (Int64, Int64) = (-1, -1)
            state.onBody = { chunk in
                received.append(contentsOf: chunk)
                return true
            }
            state.onProgress = { _, _, total, sent in
                guard total > 0, (sent, total) != reported else { return }
                reported = (sent, total)
                onProgress(sent, total)
            }
            try withExtendedLifetime(mime) { try perform(easy, state) }
            return HTTPResponse(status: state.status, headers: state.headers, body: received)
        }
    }
}
