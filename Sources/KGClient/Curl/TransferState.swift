import Foundation

/// What the C callbacks of one transfer need: the parsed response head, the
/// per-call handlers, and how the transfer ended if a handler stopped it.
///
/// Confined to the thread running `curl_easy_perform`; handlers are stored
/// escaping only for the duration of that call.
final class TransferState {
    let cancellation: CancellationFlag
    private(set) var status = 0
    private(set) var headers: [String: String] = [:]
    private(set) var headComplete = false
    private var lastHeaderName: String?

    /// Called once, when the final (non-1xx) response head is complete.
    var onHead: (_ status: Int, _ headers: [String: String]) throws -> Void = { _, _ in }
    /// Called per body chunk; return false to stop the transfer without an error.
    var onBody: (UnsafeRawBufferPointer) throws -> Bool = { _ in true }
    var onProgress: (_ downloadTotal: Int64, _ downloaded: Int64, _ uploadTotal: Int64, _ uploaded: Int64) -> Void = { _, _, _, _ in }

    /// The error a handler threw; it aborted the transfer and is rethrown as is.
    private(set) var handlerError: (any Error)?
    private(set) var stoppedByHandler = false
    private(set) var cancelled = false

    init(cancellation: CancellationFlag) {
        self.cancellation = cancellation
    }

    /// One raw header line, CRLF included. Returns false to abort.
    func receiveHeaderLine(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Trailers of a chunked body arrive here too; the head is already settled.
        if headComplete { return true }
        let line = Self.decode(bytes).trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
        if line.hasPrefix("HTTP/") {
            // A new response (after 1xx or a proxy CONNECT) replaces everything before it.
            let parts = line.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = [:]
            lastHeaderName = nil
            return true
        }
        if line.isEmpty {
            if (100..<200).contains(status) { return true }
            return completeHead()
        }
        if let first = line.first, first == " " || first == "\t", let name = lastHeaderName {
            // Obsolete line folding: continue the previous header's value.
            headers[name, default: ""] += " " + line.trimmingCharacters(in: .whitespaces)
            return true
        }
        guard let colon = line.firstIndex(of: ":") else { return true }
        let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        if let existing = headers[name] {
            headers[name] = existing + ", " + value
        } else {
            headers[name] = value
        }
        lastHeaderName = name
        return true
    }

    /// One body chunk. Returns false to abort.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if !headComplete && !completeHead() { return false }
        do {
            if try onBody(bytes) { return true }
            stoppedByHandler = true
            return false
        } catch {
            handlerError = error
            return false
        }
    }

    /// Returns false to abort (the client was cancelled).
    func progress(downloadTotal: Int64, downloaded: Int64, uploadTotal: Int64, uploaded: Int64) -> Bool {
        if cancellation.isCancelled {
            cancelled = true
            return false
        }
        onProgress(downloadTotal, downloaded, uploadTotal, uploaded)
        return true
    }

    private func completeHead() -> Bool {
        headComplete = true
        do {
            try onHead(status, headers)
            return true
        } catch {
            handlerError = error
            return false
        }
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer) -> String {
        // Header values are meant to be ASCII; some servers put raw UTF-8 in
        // filenames, anything else is read as Latin-1 so no byte is lost.
        String(bytes: bytes, encoding: .utf8) ?? String(bytes: bytes, encoding: .isoLatin1) ?? ""
    }
}
