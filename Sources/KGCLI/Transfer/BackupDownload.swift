import Foundation
import KGAge
import KGClient
import KGFormat

/// Takes a backup through the gateway into a local file: streams the response
/// into `<name>.partial`, shows progress (``BackupStatus``: bytes of the total
/// once the worker has said the file's size, what is known before), checks the file's integrity on the same pass,
/// and only then renames it. On any failure the partial file is removed; on
/// Ctrl-C too, and the job is cancelled if it still runs (exit 130).
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
    var encryptor: AgeEncryptor? = nil

    struct Outcome {
        let path: String
        let bytes: Int64
        let jobID: String?
        let report: IntegrityReport
        let seconds: Double
    }

    func run() throws -> Outcome {
        let body = try JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])
        var output: PartialFile?
        var jobID: String?
        var follower: JobFollower?
        let line = ProgressLine()
        var received: Int64 = 0
        // The integrity check runs on the bytes as they arrive: no second read of the file.
        let checker = CLIConfig.makeChecker()
        line.update(force: true) { "backup: waiting for the gateway…" }
        let trap = InterruptTrap { [client] in client.cancel() }

        defer {
            trap.remove()
            follower?.stop()
        }
        do {
            _ = try client.download(
                method: "POST", path: "/admin/backup", json: body,
                onResponseHead: { _, headers in
                    jobID = headers["x-job-id"]
                    let serverName = headers["content-disposition"].flatMap(parseContentDispositionFilename) ?? "backup.json"
                    output = try destination.partialFile(serverName: serverName + (encryptor == nil ? "" : ".age"))
                    if let jobID {
                        let f = JobFollower(client: eventsClient, jobID: jobID)
                        f.start()
                        follower = f
                    }
                },
                onData: { chunk in
                    if let encryptor, let output {
                        try encryptor.encrypt(chunk) { try output.write($0) }
                    } else {
                        try output?.write(chunk)
                    }
                    checker.feed(chunk)
                },
                onProgress: { bytes, _ in
                    received = bytes
                    line.update { BackupStatus.line(job: follower?.latest, received: bytes, elapsed: line.elapsed) }
                })
        } catch let error as HTTPClientError {
            line.clear()
            output?.discard()
            if case .cancelled = error, trap.fired {
                follower?.stop()
                throw CLIError(interrupted(jobID), exitCode: 130)
            }
            if case .transferInterrupted = error, let jobID {
                throw CLIError("backup failed: \(jobFailure(jobID) ?? "the transfer was interrupted"). Nothing was saved.")
            }
            throw CLIError.from(error)
        } catch {
            line.clear()
            output?.discard()
            throw error
        }
        line.clear()
        guard let output else { throw CLIError("the gateway sent no backup file") }

        let report = checker.finish()
        guard report.valid else {
            output.discard()
            throw CLIError("the downloaded backup failed its integrity check; it was not saved:\n" + report.renderText())
        }
        if let encryptor {
            try encryptor.finish { try output.write($0) }
        }
        let path = try output.commit()
        return Outcome(path: path, bytes: received, jobID: jobID, report: report, seconds: line.elapsed)
    }

    /// The one line printed after Ctrl-C: the partial file is gone (it was
    /// removed before this runs), and what became of the job.
    private func interrupted(_ jobID: String?) -> String {
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
            if let response = try? client.request(method: "GET", path: "/jobs/\(jobID)"), response.isSuccess,
               let job = try? response.decodeJSON(Job.self) {
                if job.status.isTerminal { return job.error ?? "job \(job.status.rawValue)" }
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        return nil
    }
}
