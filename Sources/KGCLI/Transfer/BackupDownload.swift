import Foundation
import KGAge
import KGClient
import KGFormat

/// Takes a backup through the gateway into a local file: streams the response
/// into `<name>.partial`, shows progress (``BackupStatus``: bytes of the total
/// once the worker has said the file's size, what is known before), checks the file's integrity on the same pass,
/// and only then renames it.
///
/// When the gateway keeps backup files for resumed downloads (its response says
/// `Accept-Ranges: bytes`, `X-Resume-URL`), a cut transfer continues from the byte
/// where it stopped (`GET /jobs/{id}/backup` with `Range`), up to `retries` times
/// with back-off, the first range after a cut starting ``overlap`` bytes early so
/// that the bytes already held are compared with the server's (a file that changed
/// is never stitched; later ranges carry its ETag in `If-Match`). Interrupted for good (retries spent, Ctrl-C), the partial file stays
/// with its ``ResumeSidecar`` for `kg admin backup --resume`, and the job goes on. An encrypted
/// (age) partial file keeps its header and whole chunks only, and its sidecar keeps the file key
/// until the download completes or is abandoned.
/// Otherwise (a gateway without the window) the partial file is removed on any failure,
/// and on Ctrl-C the job is cancelled if it still runs (exit 130).
struct BackupDownload {
    let client: HTTPClient
    let eventsClient: HTTPClient
    /// For the cancel after Ctrl-C: `client` is cancelled by then and
    /// `eventsClient` by the follower's stop.
    let controlClient: HTTPClient
    let request: [String: String]
    /// A directory to save into (server's file name), or an explicit file path.
    let destination: OutputTarget
    /// Encrypts the file as it arrives (age); the integrity check reads the bytes before encryption.
    /// (With `--resume`, the one that continues the partial file is made from its kept key.)
    var encryptor: AgeEncryptor? = nil
    /// Transient cuts continued inside this command (`--retries`).
    var retries = 5
    /// The server's URL, recorded in the sidecar (`--resume` goes to the same one).
    var server = ""
    /// `--resume`: the partial file of an interrupted download (its sidecar beside it).
    var resumePartial: String? = nil

    /// Bytes each resumed range repeats, compared with the end of the partial file.
    static let overlap = 4096

    struct Outcome {
        let path: String
        let bytes: Int64
        let jobID: String?
        let report: IntegrityReport
        let seconds: Double
        /// Where this command started (the partial file's length with `--resume`), and ranges it asked for.
        var resumedFrom: Int64 = 0
        var resumes = 0
    }

    /// The download's state, shared by the response callbacks.
    final class Progress {
        var output: PartialFile?
        var encryptor: AgeEncryptor?
        var jobID: String?
        var etag: String?
        /// The gateway keeps the file and serves ranges of it.
        var resumable = false
        var compression = "none"
        var window: Int?
        var follower: JobFollower?
        /// Server bytes received (the partial file's length before encryption).
        var received: Int64 = 0
        var startedAt: Int64 = 0
        /// The last ``BackupDownload/overlap`` bytes received, as the server sent them.
        var tail: [UInt8] = []
        /// The next range repeats ``tail`` to compare it: after a cut (and on `--resume`), not when
        /// it only continues a range that ended well (a job still running; `If-Match` guards those).
        var compareNext = true
        var resumes = 0

        func remember(_ chunk: UnsafeRawBufferPointer) {
            let overlap = BackupDownload.overlap
            if chunk.count >= overlap {
                tail = Array(chunk[(chunk.count - overlap)...])
            } else {
                tail.append(contentsOf: chunk)
                if tail.count > overlap { tail.removeFirst(tail.count - overlap) }
            }
        }
    }

    /// A resumed range that must not be stitched to the partial file.
    struct Unstitchable: Error {
        let message: String
    }

    func run() throws -> Outcome {
        let line = ProgressLine()
        // The integrity check runs on the bytes as they arrive: no second read of the file
        // (with --resume, the partial file's bytes go through it first).
        let checker = CLIConfig.makeChecker()
        let state = Progress()
        state.encryptor = encryptor
        let trap = InterruptTrap { [client] in client.cancel() }
        defer {
            trap.remove()
            state.follower?.stop()
        }
        let accept: (UnsafeRawBufferPointer) throws -> Void = { chunk in
            guard let output = state.output else { return }
            if let encryptor = state.encryptor {
                try encryptor.encrypt(chunk) { try output.write($0) }
            } else {
                try output.write(chunk)
            }
            checker.feed(chunk)
            state.remember(chunk)
            state.received += Int64(chunk.count)
        }

        if let resumePartial {
            line.update(force: true) { "backup: re-reading the partial file…" }
            try reopen(resumePartial, state, checker)
        } else {
            line.update(force: true) { "backup: waiting for the gateway…" }
        }
        var failures = 0
        var receivedAtLastFailure = state.received
        var whole = false
        while !whole {
            do {
                if state.jobID == nil {
                    try post(state, accept: accept, line: line)
                    whole = true
                } else {
                    whole = try fetchRange(state, accept: accept, line: line)
                }
            } catch let error as HTTPClientError {
                line.clear()
                if case .cancelled = error, trap.fired {
                    state.follower?.stop()
                    throw interrupted(state)
                }
                guard state.resumable, state.output != nil, let jobID = state.jobID else {
                    state.output?.discard()
                    if case .transferInterrupted = error, let jobID = state.jobID {
                        throw CLIError("backup failed: \(jobFailure(jobID) ?? "the transfer was interrupted"). Nothing was saved.")
                    }
                    throw CLIError.from(error)
                }
                if case .http(503, _, _) = error {
                    // The worker has written nothing past what we hold yet: ask again, not a failure.
                    Thread.sleep(forTimeInterval: 1)
                    continue
                }
                guard Self.isTransient(error) else { throw stop(state, jobID: jobID, error) }
                state.compareNext = true
                if state.received > receivedAtLastFailure { failures = 0 }
                receivedAtLastFailure = state.received
                failures += 1
                if failures > retries {
                    throw keepForLater(state, reason: "\(error) (\(retries) retries spent)", exitCode: Self.exitCode(error))
                }
                let delay = min(8, 0.5 * pow(2, Double(failures - 1)))
                Terminal.error(
                    "backup: \(error); continuing from byte \(state.received) in \(String(format: "%.1f", delay)) s "
                        + "(retry \(failures) of \(retries))")
                Thread.sleep(forTimeInterval: delay)
            } catch let error as Unstitchable {
                line.clear()
                discardAll(state)
                throw CLIError(error.message)
            } catch {
                line.clear()
                discardAll(state)
                throw error
            }
        }
        line.clear()
        guard let output = state.output else { throw CLIError("the gateway sent no backup file") }

        let report = checker.finish()
        guard report.valid else {
            discardAll(state)
            throw CLIError("the downloaded backup failed its integrity check; it was not saved:\n" + report.renderText())
        }
        if let encryptor = state.encryptor {
            try encryptor.finish { try output.write($0) }
        }
        let partial = output.partialPath
        let path = try output.commit()
        ResumeSidecar.remove(partial: partial)
        var outcome = Outcome(path: path, bytes: state.received, jobID: state.jobID, report: report, seconds: line.elapsed)
        outcome.resumedFrom = state.startedAt
        outcome.resumes = state.resumes
        return outcome
    }

    /// `POST /admin/backup`: the job's first (and usually only) stream.
    private func post(_ state: Progress, accept: @escaping (UnsafeRawBufferPointer) throws -> Void, line: ProgressLine) throws {
        let body = try JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])
        try client.download(
            method: "POST", path: "/admin/backup", json: body,
            onResponseHead: { _, headers in
                let serverName = headers["content-disposition"].flatMap(parseContentDispositionFilename) ?? "backup.json"
                state.output = try destination.partialFile(serverName: serverName + (state.encryptor == nil ? "" : ".age"))
                state.jobID = headers["x-job-id"]
                state.resumable = headers["accept-ranges"] == "bytes" && headers["x-resume-url"] != nil
                state.window = headers["x-resume-window"].flatMap { Int($0) }
                state.compression = request["compression"] ?? "none"
                if let jobID = state.jobID {
                    let f = JobFollower(client: eventsClient, jobID: jobID)
                    f.start()
                    state.follower = f
                }
            },
            onData: accept,
            onProgress: { bytes, _ in
                line.update { BackupStatus.line(job: state.follower?.latest, received: bytes, elapsed: line.elapsed) }
            })
    }

    /// One `GET /jobs/{id}/backup` from the byte we hold, ``overlap`` bytes early (compared,
    /// not written again). True when the file is whole: a range whose end is the file's length.
    private func fetchRange(
        _ state: Progress, accept: @escaping (UnsafeRawBufferPointer) throws -> Void,
        line: ProgressLine
    ) throws -> Bool {
        guard let jobID = state.jobID else { return false }
        let expected = state.compareNext ? state.tail : []
        let from = state.received - Int64(expected.count)
        var headers = ["Range": "bytes=\(from)-"]
        if let etag = state.etag { headers["If-Match"] = etag }
        var length: Int64?
        var last: Int64 = -1
        state.resumes += 1
        do {
            try fetch(from: from, expected: expected, headers: headers, state, jobID: jobID, accept: accept, line: line) {
                (length, last) = ($0, $1)
            }
        } catch let error as HTTPClientError where error.httpStatus == 416 && expected.isEmpty {
            // `bytes=N-` with N the file's length: the job completed after a range that took every
            // byte it had written (RFC 9110 answers 416, no empty 206). Whole if the job says so.
            if completedLength(jobID) == state.received { return true }
            throw error
        }
        guard state.received == last + 1 else {
            throw HTTPClientError.transferInterrupted("the range ended at byte \(state.received), not \(last + 1)")
        }
        state.compareNext = false
        if let length { return state.received >= length }
        return false  // the job still runs: the rest is not written yet
    }

    /// The request of ``fetchRange``: its bytes compared with `expected`, then written; `onRange`
    /// gets the response's length (nil while the job runs) and last byte.
    private func fetch(
        from: Int64, expected: [UInt8], headers: [String: String], _ state: Progress, jobID: String,
        accept: @escaping (UnsafeRawBufferPointer) throws -> Void, line: ProgressLine,
        onRange: @escaping (Int64?, Int64) -> Void
    ) throws {
        var compared = 0
        try client.download(
            method: "GET", path: "/jobs/\(jobID)/backup", headers: headers,
            onResponseHead: { status, headers in
                guard status == 206, let range = headers["content-range"].flatMap(ContentRange.init), range.first == from else {
                    throw Unstitchable(
                        message: "the gateway did not answer with the bytes asked for (status \(status), "
                            + "Content-Range \(headers["content-range"] ?? "none")); the partial file was removed: take a new backup")
                }
                if let etag = headers["etag"] {
                    if let known = state.etag, known != etag {
                        throw Unstitchable(message: Self.changed(jobID))
                    }
                    state.etag = etag
                }
                onRange(range.length, range.last)
            },
            onData: { chunk in
                guard !chunk.isEmpty else { return }
                var rest = chunk
                if compared < expected.count {
                    let n = min(expected.count - compared, chunk.count)
                    let same = expected[compared..<(compared + n)].withUnsafeBytes { memcmp($0.baseAddress!, chunk.baseAddress!, n) == 0 }
                    guard same else { throw Unstitchable(message: Self.changed(jobID)) }
                    compared += n
                    rest = UnsafeRawBufferPointer(rebasing: chunk[n...])
                }
                if !rest.isEmpty { try accept(rest) }
            },
            onProgress: { _, _ in
                line.update {
                    BackupStatus.line(
                        job: state.follower?.latest, received: state.received, elapsed: line.elapsed,
                        from: state.startedAt)
                }
            })
    }

    /// The length of the file a completed backup job wrote (its result's `bytes`), else nil.
    private func completedLength(_ jobID: String) -> Int64? {
        guard let response = try? client.request(method: "GET", path: "/jobs/\(jobID)"), response.isSuccess,
            let job = try? response.decodeJSON(Job.self), job.status == .completed,
            case .int(let bytes)? = job.result?.values["bytes"]
        else { return nil }
        return Int64(bytes)
    }

    private static func changed(_ jobID: String) -> String {
        "the backup file of job \(jobID) on the server is not the one this download started with (its bytes or ETag "
            + "differ); nothing was stitched, and the partial file was removed: take a new backup"
    }

    /// `--resume`: the partial file's bytes through the integrity check and digest, then continue.
    private func reopen(_ partial: String, _ state: Progress, _ checker: IntegrityChecker) throws {
        let sidecar = try ResumeSidecar.read(partial: partial)
        guard GlobalOptions.sameServer(sidecar.server, server) else {
            throw CLIError(
                "\(partial) is a download from \(sidecar.server), but this command goes to \(server); "
                    + "continue it with --server \(sidecar.server)", exitCode: 2)
        }
        let onTaken: PartialFile.OnTaken =
            switch sidecar.onTaken {
            case "replace": .replace
            case "refuse": .refuse
            default: .suffix
            }
        if let age = sidecar.age {
            try reopenEncrypted(partial, age, sidecar, onTaken, state, checker)
        } else {
            let output = try PartialFile(resuming: partial, final: sidecar.finalPath, onTaken: onTaken) { checker.feed($0) }
            state.output = output
            state.tail = try output.tail(Self.overlap)
            state.received = output.length
        }
        state.startedAt = state.received
        state.jobID = sidecar.jobID
        state.etag = sidecar.etag
        state.compression = sidecar.compression
        state.window = sidecar.windowSeconds
        state.resumable = true
        let f = JobFollower(client: eventsClient, jobID: sidecar.jobID)
        f.start()
        state.follower = f
    }

    /// An encrypted partial file (`--resume`): cut back to its last whole chunk, read through the
    /// kept key (the header's MAC and every chunk authenticate, or nothing is continued), the
    /// plaintext through the integrity check, the ciphertext through the digest; the download goes
    /// on from the plaintext the whole chunks cover, with an encryptor continuing the file.
    private func reopenEncrypted(
        _ partial: String, _ age: ResumeSidecar.AgeState, _ sidecar: ResumeSidecar, _ onTaken: PartialFile.OnTaken,
        _ state: Progress, _ checker: IntegrityChecker
    ) throws {
        func refuse(_ why: String) -> CLIError {
            unlink(partial)
            ResumeSidecar.remove(partial: partial)
            return CLIError(
                "\(partial) cannot be continued: \(why). It was removed with its kept key; take a new backup "
                    + "(job \(sidecar.jobID) may still run on the server: `kg job cancel \(sidecar.jobID)` stops it)")
        }
        guard let key = age.keyBytes else { throw refuse("its .resume file holds no file key") }
        let length = Int64((try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0)
        var prefix = [UInt8](repeating: 0, count: Int(min(length, Int64(1 << 20))))
        if let handle = FileHandle(forReadingAtPath: partial) {
            prefix = [UInt8](handle.readData(ofLength: prefix.count))
            try? handle.close()
        }
        // Whole chunks only: a chunk cut by a crash mid-write (or bytes past what was kept) go.
        guard let whole = AgeDecryptor.wholeChunkLength(prefix: prefix, length: min(length, age.sealedLength)) else {
            throw refuse("it does not hold a whole age header (it was cut or changed)")
        }
        if whole < length {
            guard truncate(partial, off_t(whole)) == 0 else {
                throw CLIError("cannot cut \(partial) back to its last whole chunk: \(String(cString: strerror(errno)))")
            }
        }
        let decryptor = AgeDecryptor(key: .fileKey(key))
        var plaintext: Int64 = 0
        let opened: (UnsafeRawBufferPointer) throws -> Void = { chunk in
            checker.feed(chunk)
            state.remember(chunk)
            plaintext += Int64(chunk.count)
        }
        do {
            let output = try PartialFile(resuming: partial, final: sidecar.finalPath, onTaken: onTaken) { try decryptor.decrypt($0, into: opened) }
            state.encryptor = try decryptor.continuation(into: opened)
            state.output = output
        } catch let error as AgeError {
            throw refuse("\(error.message.components(separatedBy: "; use another copy").joined())")
        }
        state.received = plaintext
    }

    /// The partial file can be continued later: keep it with its sidecar (and, encrypted, the
    /// file key in the sidecar: the partial file ends after the last whole chunk).
    private func keepForLater(_ state: Progress, reason: String, exitCode: Int32) -> CLIError {
        guard let output = state.output, let jobID = state.jobID else {
            discardAll(state)
            return CLIError("backup interrupted: \(reason). Nothing was saved.", exitCode: exitCode)
        }
        let finalPath = output.finalPath
        var sidecar = ResumeSidecar(
            jobID: jobID, server: server, etag: state.etag, compression: state.compression,
            finalPath: finalPath, onTaken: "\(output.onTaken)", windowSeconds: state.window,
            interruptedAt: Date())
        var kept = state.received
        do {
            if let encryptor = state.encryptor {
                // The header goes out even before the first byte arrived: `--resume` needs no recipient.
                try encryptor.start { try output.write($0) }
                let point = encryptor.continuationPoint
                guard point.sealedLength == output.length else {
                    throw CLIError("the encrypted partial file holds \(output.length) bytes, not \(point.sealedLength)")
                }
                sidecar.age = ResumeSidecar.AgeState(
                    fileKey: Data(point.fileKey).base64EncodedString(), plaintextOffset: point.plaintext,
                    sealedLength: point.sealedLength)
                kept = point.plaintext
            }
            try sidecar.write(beside: output.partialPath)
        } catch {
            discardAll(state)
            return CLIError("backup interrupted: \(reason); \(error)", exitCode: exitCode)
        }
        output.keep()
        let window = state.window.map { " within \(Terminal.duration(Double($0)))" } ?? ""
        let keyNote = state.encryptor == nil ? "" : " (its file key waits in \(ResumeSidecar.path(for: output.partialPath)), mode 0600, until then)"
        return CLIError(
            """
            backup interrupted: \(reason). \(Terminal.bytes(kept)) kept in \(output.partialPath); \
            continue with `kg admin backup --resume`\(window)\(keyNote). Job \(jobID) goes on on the server (`kg job cancel \(jobID)` stops it).
            """, exitCode: exitCode)
    }

    private func discardAll(_ state: Progress) {
        if let output = state.output {
            ResumeSidecar.remove(partial: output.partialPath)
            output.discard()
        }
    }

    /// A refusal that no retry changes: the file is gone or changed (start over), or the
    /// login or server is wrong (keep the partial file for a `--resume` that fixes it).
    private func stop(_ state: Progress, jobID: String, _ error: HTTPClientError) -> CLIError {
        switch error.httpStatus {
        case 410?, 412?, 416?:
            discardAll(state)
            let message: String
            if case .http(_, let text, _) = error { message = text } else { message = "\(error)" }
            return CLIError("backup cannot be continued: \(message). The partial file was removed: take a new backup.")
        default:
            return keepForLater(state, reason: "\(error)", exitCode: CLIError.from(error).exitCode)
        }
    }

    static func isTransient(_ error: HTTPClientError) -> Bool {
        switch error {
        case .transferInterrupted, .unreachable: return true
        case .http(let status, _, _): return status == 502 || status == 504
        default: return false
        }
    }

    static func exitCode(_ error: HTTPClientError) -> Int32 {
        if case .unreachable = error { return 3 }
        return 1
    }

    /// Ctrl-C: a resumable download is kept for `--resume` and its job goes on; otherwise the
    /// partial file is removed and the job cancelled if it still runs.
    private func interrupted(_ state: Progress) -> CLIError {
        if state.resumable, state.output != nil, state.jobID != nil {
            let kept = keepForLater(state, reason: "Ctrl-C", exitCode: 130)
            return kept
        }
        state.output?.discard()
        return CLIError(interruptedText(state.jobID), exitCode: 130)
    }

    /// The one line printed after Ctrl-C: the partial file is gone (it was
    /// removed before this runs), and what became of the job.
    private func interruptedText(_ jobID: String?) -> String {
        var text = "backup interrupted; the partial file was removed and nothing was saved"
        guard let jobID else { return text + "." }
        let response = try? controlClient.request(method: "DELETE", path: "/jobs/\(jobID)")
        switch response?.status {
        case (200..<300)?: text += "; job \(jobID) was cancelled."
        case 409?: text += " (job \(jobID) had already finished on the server)."
        default: text += "; job \(jobID) could not be cancelled: see `kg job status \(jobID)`."
        }
        return text
    }

    /// Why the job failed, from the gateway (the stream itself cannot say).
    private func jobFailure(_ jobID: String) -> String? {
        for _ in 0..<10 {
            if let response = try? controlClient.request(method: "GET", path: "/jobs/\(jobID)"), response.isSuccess,
                let job = try? response.decodeJSON(Job.self)
            {
                if job.status.isTerminal { return job.error ?? "job \(job.status.rawValue)" }
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        return nil
    }
}
