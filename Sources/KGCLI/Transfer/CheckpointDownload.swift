import Foundation
import KGClient
import KGFormat

/// Streams a kept checkpoint (`GET /admin/checkpoints/{id}`) into a local
/// file the way a backup arrives: `<name>.partial`, checked on the same pass,
/// renamed only when complete and valid, removed on any failure. The server's
/// name loses its leading dot, so the file shows in `kg admin list-backups`.
struct CheckpointDownload {
    let client: HTTPClient
    let id: String
    let destination: OutputTarget

    struct Outcome {
        let path: String
        let bytes: Int64
        let report: IntegrityReport
    }

    func run() throws -> Outcome {
        guard UUID(uuidString: id) != nil else {
            throw CLIError.usage("\(id) is not a checkpoint id; `kg admin checkpoints list` shows them")
        }
        var output: PartialFile?
        var received: Int64 = 0
        let checker = CLIConfig.makeChecker()
        let line = ProgressLine()
        line.update(force: true) { "checkpoint: waiting for the gateway…" }
        do {
            _ = try client.download(
                path: "/admin/checkpoints/\(id.lowercased())",
                onResponseHead: { _, headers in
                    let serverName =
                        headers["content-disposition"].flatMap(parseContentDispositionFilename)
                        ?? "checkpoint_\(id).json"
                    let name = String(serverName.drop { $0 == "." })
                    output = try destination.partialFile(serverName: name)
                },
                onData: { chunk in
                    try output?.write(chunk)
                    checker.feed(chunk)
                },
                onProgress: { bytes, total in
                    received = bytes
                    line.update { "checkpoint  \(Terminal.bytes(bytes))" + (total.map { " of \(Terminal.bytes($0))" } ?? "") }
                })
            line.clear()
        } catch let error as HTTPClientError {
            line.clear()
            output?.discard()
            if case .http(let status, _, _) = error, status == 404 {
                throw CLIError("no kept checkpoint \(id) on the server; `kg admin checkpoints list` shows them")
            }
            throw CLIError.from(error)
        } catch {
            line.clear()
            output?.discard()
            throw error
        }
        guard let output else { throw CLIError("the gateway sent no checkpoint file") }
        let report = checker.finish()
        guard report.valid else {
            output.discard()
            throw CLIError("the downloaded checkpoint failed its integrity check; it was not saved:\n" + report.renderText())
        }
        return Outcome(path: try output.commit(), bytes: received, report: report)
    }
}
