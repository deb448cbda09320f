import Foundation
import KGClient
import KGFormat

/// Sends a backup to `POST /admin/restore` (multipart: the file as `file`,
/// and the fields `mode`, `dry_run`, `external_deps`) with a progress line,
/// and turns the gateway's answer into the accepted job or a `CLIError` that
/// says what happened and that nothing was changed.
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
    /// The file's bytes decrypted while sending (an age file), instead of the file itself.
    var source: UploadSource? = nil

    var fields: [(name: String, value: String)] {
        var fields = [("mode", mode.rawValue), ("dry_run", dryRun ? "true" : "false"), ("external_deps", externalDeps.rawValue)]
        if let checkpoint { fields.append(("checkpoint", checkpoint ? "true" : "false")) }
        if keepCheckpoint { fields.append(("keep_checkpoint", "true")) }
        if noWait { fields.append(("no_wait", "true")) }
        return fields
    }

    func run() throws -> RestoreAccepted {
        let line = ProgressLine()
        let trap = InterruptTrap { [client] in client.cancel() }
        defer { trap.remove() }
        var sent: Int64 = 0
        var total: Int64 = 0
        line.update(force: true) { UploadStatus.line(sent: 0, total: bytes, elapsed: 0) }
        let response: HTTPResponse
        do {
            let progress: (Int64, Int64) -> Void = { s, t in
                sent = s
                total = t
                line.update(force: s == t) { UploadStatus.line(sent: s, total: t, elapsed: line.elapsed) }
            }
            let route = noWait ? "/admin/restore?no_wait=true" : "/admin/restore"
            if let source {
                // Decrypted in memory as it is sent: nothing decrypted touches the disk.
                let name = (path as NSString).lastPathComponent
                response = try client.uploadMultipart(
                    path: route, fields: fields, fileField: "file", source: source,
                    fileName: name.hasSuffix(".age") ? String(name.dropLast(4)) : name,
                    contentType: "application/octet-stream", onProgress: progress)
            } else {
                response = try client.uploadMultipart(
                    path: route, fields: fields, fileField: "file", filePath: path,
                    fileName: (path as NSString).lastPathComponent,
                    contentType: Self.contentType(path), onProgress: progress)
            }
        } catch let error as HTTPClientError {
            line.clear()
            let bodySent = total > 0 && sent >= total
            switch error {
            case .cancelled where trap.fired:
                throw CLIError(bodySent
                    ? "interrupted while waiting for the gateway's answer; a restore job may have started: see `kg job list`"
                    : "upload interrupted; the gateway drops a partial upload, so nothing was changed",
                    exitCode: 130)
            case .transferInterrupted(let message):
                throw CLIError(bodySent
                    ? "the connection broke while waiting for the gateway's answer (\(message)); a restore job may have started: see `kg job list`"
                    : "the upload was interrupted (\(message)); the gateway drops a partial upload, so nothing was changed. Run the command again.")
            default:
                throw CLIError.from(error)
            }
        }
        line.clear()
        return try accepted(response)
    }

    /// The job the gateway accepted, or why it refused.
    func accepted(_ response: HTTPResponse) throws -> RestoreAccepted {
        let message = response.errorMessage
        switch response.status {
        case 200..<300:
            do {
                return try response.decodeJSON(RestoreAccepted.self)
            } catch {
                throw CLIError("the gateway accepted the upload (\(response.status)) but its answer could not be read: \(error). "
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
