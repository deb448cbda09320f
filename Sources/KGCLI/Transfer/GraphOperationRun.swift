import Foundation
import KGClient
import KGFormat

/// Submits a prune or an ontology delete (`POST` with JSON options), follows
/// the job with the same stage board as a restore, and ends with the
/// summary and the contract's exit code.
struct GraphOperationRun {
    let client: HTTPClient
    let eventsClient: HTTPClient
    let operation: GraphOperation
    let path: String
    let body: [String: Any]
    let json: Bool

    func run() throws {
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        let response: HTTPResponse
        do {
            response = try client.request(method: "POST", path: path, json: data)
        } catch let error as HTTPClientError {
            throw CLIError.from(error)
        }
        let label = Self.label(operation)
        switch response.status {
        case 200..<300: break
        case 404:
            throw CLIError(
                "\(response.errorMessage ?? "not found"); nothing was changed. `kg admin backup --type ontology` needs an existing name too")
        case 409: throw CLIError("the gateway refused the \(label): \(response.errorMessage ?? "conflict (409)"). Nothing was changed.")
        default:
            let error = CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
            throw CLIError(error.message + (error.exitCode == 4 ? "" : ". Nothing was changed."), exitCode: error.exitCode)
        }
        let accepted = try response.decodeJSON(JobAccepted.self)
        if Terminal.stderrIsTTY {
            Terminal.error("\(label) job \(accepted.jobID) accepted; Ctrl-C stops following, not the \(label)")
        }
        let stages = operation.stages.map { StageBoard.Stage(name: $0.name, title: $0.title) }
        let job = RestoreFollow(client: eventsClient, jobID: accepted.jobID, label: label, stages: stages).run()
        let result = job.result.flatMap(Self.result)
        if job.status == .completed, let result { Terminal.error(Self.summary(result)) }
        try FollowedJobOutput.print(job, json: json)
        switch job.status {
        case .completed: return
        case .cancelled: throw CLIError("\(label) cancelled: \(job.error ?? "no reason given")")
        default:
            let reason = job.error ?? "the worker gave no reason"
            if reason.hasPrefix("ROLLBACK FAILED") { throw CLIError("\(label) failed, and so did the rollback: \(reason)") }
            throw CLIError("\(label) failed: \(reason)")
        }
    }

    static func label(_ operation: GraphOperation) -> String { operation == .prune ? "prune" : "ontology delete" }

    static func result(_ result: JSONObjectText) -> GraphOperationResult? {
        guard let data = try? JSONEncoder().encode(result) else { return nil }
        return try? JSONDecoder().decode(GraphOperationResult.self, from: data)
    }

    /// "pruned 3 instances, 2 concepts, 5 relationships in 0.4 s" (or what a dry run would remove).
    static func summary(_ result: GraphOperationResult) -> String {
        let what = RestoreMessages.counts(result.removed).nonEmpty ?? "nothing"
        let seconds = String(format: "%.1f s", result.seconds)
        var line: String
        switch (result.operation, result.dryRun) {
        case (.prune, true): line = "dry run: prune would remove \(what); nothing was changed (\(seconds))"
        case (.prune, false): line = "pruned \(what) in \(seconds)"
        case (.ontologyDelete, true): line = "dry run: deleting \"\(result.ontology ?? "")\" would remove \(what); nothing was changed (\(seconds))"
        case (.ontologyDelete, false): line = "deleted ontology \"\(result.ontology ?? "")\": removed \(what) in \(seconds)"
        }
        if result.checkpoint == "kept", let id = result.checkpointID {
            line += "\n  checkpoint kept: \(id) (`kg admin checkpoints download \(id)`)"
        }
        return line
    }
}
