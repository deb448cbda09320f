import Foundation
import KGClient
import KGFormat

/// Sends a backup as a resumable upload (`POST /admin/restore/uploads`, then `PATCH`es of the
/// bytes from the offset the gateway holds) with a progress line, and turns the gateway's answer
/// into the accepted job or a `CLIError` that says what happened and that nothing was changed.
/// A cut connection is retried (`retries` times, with back-off) from the gateway's offset; an
/// upload that stops for good is kept in ``RestoreSessionStore`` for `kg admin restore FILE --resume`.
struct RestoreUpload {
    let client: HTTPClient
    /// The local file, plain, gzip or zstd (by its first bytes).
    let path: String
    let bytes: Int64
    let compressed: Bool
    let mode: RestoreMode
    let dryRun: Bool
    let externalDeps: ExternalDepsStrategy
    var checkpoint: Bool? = nil
    var keepCheckpoint = false
    var noWait = false
    /// The bytes uploaded from an offset: the file itself, or an age file's plaintext (decrypted while
    /// sending). nil: the file at `path`, `bytes` long.
    var source: ((Int64) throws -> UploadSource)? = nil
    /// The length of what is uploaded (the plaintext's for an age file).
    var uploadBytes: Int64? = nil
    var retries = 5
    /// The progress line's first word (``UploadStatus``).
    var label = "upload"
    /// Continue the upload kept in `store` instead of starting one.
    var resume = false
    /// Where the upload is kept (with the server and the file's digest) while it is unfinished.
    var store: RestoreSessionStore? = nil
    var server = ""
    var fileDigest = ""
    /// Seconds before the n-th retry (1 s, 2 s, 4 s… at most 15 s); tests shorten it with KG_RETRY_DELAY_S.
    var retryDelay: (Int) -> Double = { attempt in
        let base = Double(ProcessInfo.processInfo.environment["KG_RETRY_DELAY_S"] ?? "") ?? 1
        return min(15, base * pow(2, Double(attempt - 1)))
    }

    var createBody: [String: Any] {
        var body: [String: Any] = [
            "size": Int(total), "file_name": fileName, "mode": mode.rawValue, "dry_run": dryRun,
            "external_deps": externalDeps.rawValue,
        ]
        if let checkpoint { body["checkpoint"] = checkpoint }
        if keepCheckpoint { body["keep_checkpoint"] = true }
        if noWait { body["no_wait"] = true }
        return body
    }

    private var total: Int64 { uploadBytes ?? bytes }

    private var fileName: String {
        let name = (path as NSString).lastPathComponent
        return name.hasSuffix(".age") ? String(name.dropLast(4)) : name
    }

    private var resumeHint: String {
        "continue it with `kg admin restore \(path) --resume` (the gateway keeps it for restore_upload_window_s after its last byte)"
    }

    func run() throws -> RestoreAccepted {
        let line = ProgressLine()
        let trap = InterruptTrap { [client] in client.cancel() }
        defer { trap.remove() }
        var offset: Int64 = 0
        var uploadURL: String
        if resume {
            guard let entry = store?.find(server: server, digest: fileDigest) else {
                throw CLIError("no unfinished upload of \(path) to \(server) to resume: run `kg admin restore \(path)` without --resume")
            }
            uploadURL = entry.uploadURL
            do {
                offset = try askOffset(uploadURL)
            } catch let gone as UploadGone {
                throw gone.error(sentAll: false, path: path)
            }
            Terminal.error("resuming the upload at byte \(offset) of \(total)")
        } else {
            (uploadURL, offset) = try create()
        }

        var attempt = 0
        var sentAll = false
        line.update(force: true) { UploadStatus.line(sent: offset, total: total, elapsed: 0, label: label) }
        let started = offset
        while true {
            let response: HTTPResponse
            do {
                let from = offset
                let body = try makeSource(from: from)
                response = try client.uploadStream(
                    method: "PATCH", path: uploadURL, source: body, headers: ["Upload-Offset": String(from)],
                    onProgress: { s, _ in
                        let sent = from + s
                        if sent == total { sentAll = true }
                        line.update(force: sent == total) {
                            UploadStatus.line(sent: sent, total: total, elapsed: line.elapsed, from: started, label: label)
                        }
                    })
            } catch let error as HTTPClientError {
                switch error {
                case .cancelled where trap.fired:
                    line.clear()
                    throw CLIError("upload interrupted; nothing was changed: \(resumeHint)", exitCode: 130)
                case .transferInterrupted, .unreachable:
                    attempt += 1
                    guard attempt <= retries else {
                        line.clear()
                        throw CLIError("the upload was interrupted (\(error)) after \(retries) retries; nothing was changed: \(resumeHint)")
                    }
                    Thread.sleep(forTimeInterval: retryDelay(attempt))
                    do {
                        offset = try askOffset(uploadURL)
                    } catch let gone as UploadGone {
                        line.clear()
                        throw gone.error(sentAll: sentAll, path: path)
                    } catch {
                        // The gateway is still away: the next attempt asks again.
                    }
                    continue
                default:
                    line.clear()
                    throw CLIError.from(error)
                }
            } catch let refused as UploadCheckAlong.Refused {
                // The local check refused the file before its last byte went: the gateway's part goes too.
                line.clear()
                abandon(uploadURL)
                throw refused
            }
            switch response.status {
            case 404, 410:
                line.clear()
                store?.remove(server: server, digest: fileDigest)
                throw UploadGone(message: response.errorMessage ?? "gone").error(sentAll: sentAll, path: path)
            case 204:
                // The request ended before the last byte (the body was cut short): ask where the upload is.
                offset = Int64(response.headers["upload-offset"] ?? "") ?? offset
                attempt += 1
                guard attempt <= retries else {
                    line.clear()
                    throw CLIError("the upload did not complete after \(retries) retries; nothing was changed: \(resumeHint)")
                }
            case 409 where response.headers["upload-offset"] != nil:
                // Another request still holds the upload, or the gateway holds other bytes than we thought.
                offset = Int64(response.headers["upload-offset"] ?? "") ?? offset
                attempt += 1
                guard attempt <= retries else {
                    line.clear()
                    throw CLIError(
                        "the gateway kept refusing the upload's bytes (\(response.errorMessage ?? "409")); nothing was changed: \(resumeHint)")
                }
                Thread.sleep(forTimeInterval: retryDelay(attempt))
            default:
                line.clear()
                return try finished(response)
            }
        }
    }

    /// Creates the upload on the gateway (its checks that need no file come first) and keeps it in the store.
    private func create() throws -> (url: String, offset: Int64) {
        let body = try JSONSerialization.data(withJSONObject: createBody)
        let response: HTTPResponse
        do {
            response = try client.request(method: "POST", path: "/admin/restore/uploads", json: body)
        } catch let error as HTTPClientError {
            throw CLIError.from(error)
        }
        guard response.status == 201 else { throw refusal(response) }
        guard let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let id = object["upload_id"] as? String, let url = object["upload_url"] as? String
        else {
            throw CLIError("the gateway's answer to the upload's creation could not be read; nothing was changed")
        }
        try store?.save(
            .init(
                server: server, fileDigest: fileDigest, uploadID: id, uploadURL: url, size: total, file: path,
                createdAt: Date().timeIntervalSince1970))
        return (url, 0)
    }

    /// Ends the upload on the gateway (`DELETE`), which frees the bytes it holds, and forgets it here.
    private func abandon(_ url: String) {
        _ = try? client.request(method: "DELETE", path: url)
        store?.remove(server: server, digest: fileDigest)
    }

    /// How much the gateway holds; ``UploadGone`` when it no longer knows the upload.
    private func askOffset(_ url: String) throws -> Int64 {
        let response: HTTPResponse
        do {
            response = try client.request(method: "GET", path: url)
        } catch let error as HTTPClientError {
            throw CLIError.from(error)
        }
        guard response.status == 200, let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any] else {
            if [404, 410].contains(response.status) {
                store?.remove(server: server, digest: fileDigest)
                throw UploadGone(message: response.errorMessage ?? "gone")
            }
            throw refusal(response)
        }
        return (object["offset"] as? NSNumber)?.int64Value ?? 0
    }

    /// The gateway no longer knows the upload: it ended (its restore job was queued, or it was refused) or expired.
    struct UploadGone: Error {
        let message: String

        func error(sentAll: Bool, path: String) -> CLIError {
            if sentAll {
                return CLIError(
                    "the connection broke after the whole file was sent, while waiting for the gateway's answer; "
                        + "a restore job may have started: see `kg job list`")
            }
            return CLIError(
                "the gateway no longer holds this upload (\(message)): an upload ends when its restore is queued, "
                    + "and an unfinished one expires restore_upload_window_s after its last byte. Nothing was changed by it; "
                    + "`kg job list` shows whether its restore started. To send the file again, run `kg admin restore \(path)` without --resume.")
        }
    }

    /// The upload's final answer: the upload is no longer kept for --resume.
    private func finished(_ response: HTTPResponse) throws -> RestoreAccepted {
        // A 5xx may leave the upload on the gateway (the database away when the last byte came): kept for --resume.
        // 507 (temp storage full) ends it there.
        if response.status == 507 || !(500..<600).contains(response.status) {
            store?.remove(server: server, digest: fileDigest)
        }
        return try accepted(response)
    }

    private func refusal(_ response: HTTPResponse) -> Error {
        do {
            _ = try accepted(response)
            return CLIError("the gateway answered \(response.status) to the upload's creation; nothing was changed")
        } catch {
            return error
        }
    }

    /// The uploaded bytes from `offset`: the file read from there, or the age plaintext from there.
    private func makeSource(from offset: Int64) throws -> UploadSource {
        if let source { return try source(offset) }
        let cursor: FileCursor
        do { cursor = try FileCursor(path: path, offset: offset) } catch { throw CLIError(error.message) }
        return UploadSource(size: bytes - offset) { try cursor.read(into: $0) }
    }

    /// The job the gateway accepted, or why it refused.
    func accepted(_ response: HTTPResponse) throws -> RestoreAccepted {
        let message = response.errorMessage
        switch response.status {
        case 200..<300:
            do {
                return try response.decodeJSON(RestoreAccepted.self)
            } catch {
                throw CLIError(
                    "the gateway accepted the upload (\(response.status)) but its answer could not be read: \(error). "
                        + "See `kg job list` for the restore job.")
            }
        case 400:
            throw CLIError(RestoreMessages.refusal(body: response.body) + "\nNothing was changed.")
        case 409:
            throw CLIError("the gateway refused the restore: \(message ?? "conflict (409)"). Nothing was changed.")
        case 413:
            throw CLIError(RestoreMessages.tooLarge(bytes: bytes, gzip: compressed, gatewayMessage: message))
        default:
            let error = CLIError.from(.http(status: response.status, message: message ?? "", body: response.body))
            if error.exitCode == 4 { throw error }
            throw CLIError(error.message + ". Nothing was changed.", exitCode: error.exitCode)
        }
    }

    /// The part's content type, from the file's first bytes (the gateway goes by the bytes too).
    static func contentType(_ path: String) -> String {
        switch ContentDecoder.encoding(ofFileAt: path) {
        case .gzip: return "application/gzip"
        case .zstd: return "application/zstd"
        case .identity, .undetermined: return "application/json"
        }
    }
}
