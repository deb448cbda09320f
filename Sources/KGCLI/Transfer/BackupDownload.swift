import Foundation
import KGClient
import KGFormat

/// Takes a backup through the gateway into a local file: streams the response
/// into `<name>.partial`, shows progress (records from the job's events, bytes
/// and rate from the transfer), checks the file's integrity on the same pass,
/// and only then renames it. On any failure the partial file is removed.
struct BackupDownload {
    let client: HTTPClient
    let eventsClient: HTTPClient
    let request: [String: String]
    /// A directory to save into (server's file name), or an explicit file path.
    let destination: Destination

    enum Destination {
        case directory(String)
        case file(String)
    }

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

        defer { follower?.stop() }
        do {
            _ = try client.download(
                method: "POST", path: "/admin/backup", json: body,
                onResponseHead: { _, headers in
                    jobID = headers["x-job-id"]
                    let serverName = headers["content-disposition"].flatMap(parseContentDispositionFilename) ?? "backup.json"
                    output = try PartialFile(final: finalPath(serverName: serverName))
                    if let jobID {
                        let f = JobFollower(client: eventsClient, jobID: jobID)
                        f.start()
                        follower = f
                    }
                },
                onData: { chunk in
                    try output?.write(chunk)
                    checker.feed(chunk)
                },
                onProgress: { bytes, _ in
                    received = bytes
                    line.update { statusLine(follower?.latest, bytes: bytes, elapsed: line.elapsed) }
                })
        } catch let error as HTTPClientError {
            line.clear()
            output?.discard()
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
        let path = try output.commit()
        return Outcome(path: path, bytes: received, jobID: jobID, report: report, seconds: line.elapsed)
    }

    private func finalPath(serverName: String) throws -> String {
        switch destination {
        case .file(let path): return path
        case .directory(let dir):
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return dir + "/" + serverName
        }
    }

    private func statusLine(_ job: Job?, bytes: Int64, elapsed: Double) -> String {
        let rate = elapsed > 0 ? Double(bytes) / elapsed : 0
        var parts = ["backup"]
        if let progress = job?.progress {
            parts.append(String(format: "%5.1f%%", progress.percent))
            parts.append(Terminal.bar(progress.percent / 100))
            if let done = progress.itemsProcessed, let total = progress.itemsTotal, total > 0 {
                parts.append("\(Terminal.grouped(done))/\(Terminal.grouped(total)) records")
            }
        } else if job?.status == .queued {
            parts.append("waiting for a worker")
        }
        parts.append(Terminal.bytes(bytes))
        parts.append("\(Terminal.bytes(Int64(rate)))/s")
        return parts.joined(separator: "  ")
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
