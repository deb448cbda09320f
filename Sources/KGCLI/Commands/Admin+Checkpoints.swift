import ArgumentParser
import Foundation
import KGClient
import KGFormat

extension Admin {
    /// `kg admin checkpoints list|download ID|restore ID`: the checkpoints the server
    /// kept (failed risky operations, or `--keep-checkpoint`).
    struct Checkpoints: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List and download the checkpoints kept on the server (admin role).",
            discussion: """
                A checkpoint is a full backup of the graph that the worker takes before a risky operation \
                (a merge restore, prune, stitch, ontology delete). The operation runs in one transaction: \
                a failure rolls it back, so the graph is as the checkpoint holds it. The checkpoint is deleted \
                after a success, and kept after a failure (or with --keep-checkpoint) for inspection; the \
                server keeps the newest few (checkpoint_retention). `restore ID` puts one back on purpose.

                EXAMPLES:
                  kg admin checkpoints list
                  kg admin checkpoints download 3f2a…
                  kg admin checkpoints restore 3f2a… --dry-run
                """,
            subcommands: [List.self, Download.self, Restore.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "List the kept checkpoints, newest first.",
                discussion: """
                    EXAMPLES:
                      kg admin checkpoints list
                      kg admin checkpoints list --json
                    """)
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions

            func run() throws {
                let response = try JobCommand.fetch(try global.client(try global.config()), "GET", "/admin/checkpoints")
                if output.json {
                    print(String(decoding: response.body, as: UTF8.self))
                    return
                }
                struct Answer: Decodable { let checkpoints: [CheckpointInfo] }
                let checkpoints = try response.decodeJSON(Answer.self).checkpoints
                if checkpoints.isEmpty {
                    Terminal.error("no checkpoints kept on the server")
                    return
                }
                let rows = checkpoints.map { c in
                    [
                        c.checkpointID, Checkpoints.jobName(c.jobType), c.status == "rollback_failed" ? "ROLLBACK FAILED" : c.status,
                        Terminal.bytes(Int64(c.bytes)), TextTable.time(c.keptAt ?? c.createdAt), c.user ?? "", c.reason ?? "",
                    ]
                }
                print(
                    TextTable.render(
                        header: ["CHECKPOINT (= JOB ID)", "OPERATION", "STATUS", "SIZE", "KEPT (UTC)", "USER", "REASON"],
                        rows: rows))
                fflush(nil)  // the rows before the hint when both streams go to one place
                Terminal.error("download one into backup_dir with `kg admin checkpoints download ID`")
            }
        }

        struct Download: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Download a kept checkpoint into backup_dir (or --output), checked like a backup.",
                discussion: """
                    Prints the saved path. Restore it with `kg admin restore FILE --mode replace`.

                    EXAMPLES:
                      kg admin checkpoints download 3f2a9c1e-0b7d-4c55-9d5e-2f4b8c1a7e90
                      kg admin checkpoints download ID --output ~/safe/
                    """)
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions
            @Argument(help: "The checkpoint id (`kg admin checkpoints list`).") var id: String
            @Option(name: .customLong("output"), help: "Save to this file, or into this directory, instead of backup_dir.")
            var outputPath: String?
            @Flag(name: .long, help: "Replace the file --output names if it exists (only once the download is whole and checked).")
            var force = false

            func run() throws {
                let config = try global.config()
                let destination = try OutputTarget.resolve(outputPath, default: config.backupDir, force: force)
                let outcome = try CheckpointDownload(client: try global.client(config), id: id, destination: destination).run()
                if output.json {
                    let object: [String: Any] = [
                        "path": outcome.path, "bytes": outcome.bytes, "checkpoint_id": id,
                        "statistics": outcome.report.counts,
                    ]
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    Terminal.error(
                        "checkpoint downloaded: \(Terminal.bytes(outcome.bytes)) "
                            + "(\(RestoreMessages.counts(outcome.report.counts)))")
                    print(outcome.path)
                }
            }
        }

        struct Restore: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Put a kept checkpoint back: the graph becomes exactly what the checkpoint holds.",
                discussion: """
                    A replace restore of the checkpoint's file on the server (nothing is uploaded), run as a \
                    risky job with a checkpoint of its own (so this too can be undone), in one transaction. \
                    What the checkpoint's job kept aside or connected (pending links) is undone too. \
                    --dry-run checks and counts, changes nothing. Exit codes: 0 done, 1 failed (nothing \
                    changed) or refused, 2 usage, 3 server unreachable, 4 not permitted.

                    EXAMPLES:
                      kg admin checkpoints restore 3f2a… --keep-checkpoint
                    """)
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions
            @OptionGroup var risky: RiskyOptions
            @Argument(help: "The checkpoint id (`kg admin checkpoints list`).") var id: String
            @Flag(name: .long, help: "Check and count; change nothing.") var dryRun = false

            func validate() throws {
                guard UUID(uuidString: id.trimmingCharacters(in: .whitespaces)) != nil else {
                    throw ValidationError("\"\(id)\" is not a checkpoint id; `kg admin checkpoints list` shows them")
                }
            }

            func run() throws {
                let config = try global.config()
                var body = risky.body
                body["dry_run"] = dryRun
                if dryRun { body["checkpoint"] = false }
                let client = try global.client(config)
                let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
                let checkpoint = id.trimmingCharacters(in: .whitespaces).lowercased()
                guard UUID(uuidString: checkpoint) != nil else {
                    throw CLIError.usage("\(id) is not a checkpoint id; `kg admin checkpoints list` shows them")
                }
                let response: HTTPResponse
                do {
                    response = try client.request(method: "POST", path: "/admin/checkpoints/\(checkpoint)/restore", json: data)
                } catch let error as HTTPClientError {
                    throw CLIError.from(error)
                }
                switch response.status {
                case 200..<300: break
                case 404, 409, 410:
                    throw CLIError(
                        "the gateway refused the checkpoint restore: \(response.errorMessage ?? "HTTP \(response.status)"). Nothing was changed.")
                default:
                    let error = CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
                    throw CLIError(error.message + (error.exitCode == 4 ? "" : ". Nothing was changed."), exitCode: error.exitCode)
                }
                let accepted = try response.decodeJSON(JobAccepted.self)
                if Terminal.stderrIsTTY {
                    Terminal.error("checkpoint restore job \(accepted.jobID) accepted; Ctrl-C stops following, not the restore")
                }
                let job = RestoreFollow(client: try global.client(config), jobID: accepted.jobID).run()
                let result = job.result.flatMap(Admin.Restore.restoreResult)
                if job.status == .completed {
                    Terminal.error(result.map { RestoreMessages.summary($0) } ?? "checkpoint \(checkpoint) restored")
                }
                try FollowedJobOutput.print(job, json: output.json)
                switch job.status {
                case .completed: return
                case .cancelled: throw CLIError(RestoreMessages.cancelled)
                default: throw CLIError(RestoreMessages.failed(error: job.error, dryRun: dryRun))
                }
            }
        }

        static func jobName(_ type: String) -> String { type.replacingOccurrences(of: "_", with: " ") }
    }
}
