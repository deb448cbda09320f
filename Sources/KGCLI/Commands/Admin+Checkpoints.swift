import ArgumentParser
import Foundation
import KGClient
import KGFormat

extension Admin {
    /// `kg admin checkpoints list|download ID`: the checkpoints the server kept
    /// (failed risky operations, or `--keep-checkpoint`).
    struct Checkpoints: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List and download the checkpoints kept on the server (admin role).",
            discussion: """
                A checkpoint is a full backup of the graph that the worker takes before a risky operation \
                (a merge restore, prune, stitch, ontology delete). It is deleted after a success, and kept \
                after a failure (the graph was rolled back to it) for inspection; the server keeps the newest \
                few (checkpoint_retention).
                """,
            subcommands: [List.self, Download.self])

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the kept checkpoints, newest first.")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions

            func run() throws {
                let response = try JobCommand.fetch(global.client(try global.config()), "GET", "/admin/checkpoints")
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
                    [c.checkpointID, Checkpoints.jobName(c.jobType), c.status == "rollback_failed" ? "ROLLBACK FAILED" : c.status,
                     Terminal.bytes(Int64(c.bytes)), TextTable.time(c.keptAt ?? c.createdAt), c.user ?? "", c.reason ?? ""]
                }
                print(TextTable.render(header: ["CHECKPOINT (= JOB ID)", "OPERATION", "STATUS", "SIZE", "KEPT (UTC)", "USER", "REASON"],
                                       rows: rows))
                fflush(nil)  // the rows before the hint when both streams go to one place
                Terminal.error("download one into backup_dir with `kg admin checkpoints download ID`")
            }
        }

        struct Download: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Download a kept checkpoint into backup_dir (or --output), checked like a backup.",
                discussion: "Prints the saved path. Restore it with `kg admin restore FILE --mode replace`.")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions
            @Argument(help: "The checkpoint id (`kg admin checkpoints list`).") var id: String
            @Option(name: .customLong("output"), help: "Save to this file, or into this directory, instead of backup_dir.")
            var outputPath: String?

            func run() throws {
                let config = try global.config()
                var directory = config.backupDir
                var file: String?
                if let outputPath {
                    var isDir: ObjCBool = false
                    let expanded = (outputPath as NSString).expandingTildeInPath
                    if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDir), isDir.boolValue {
                        directory = expanded
                    } else {
                        file = expanded
                    }
                }
                let outcome = try CheckpointDownload(client: global.client(config), id: id, directory: directory, file: file).run()
                if output.json {
                    let object: [String: Any] = ["path": outcome.path, "bytes": outcome.bytes, "checkpoint_id": id,
                                                 "statistics": outcome.report.counts]
                    print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
                } else {
                    Terminal.error("checkpoint downloaded: \(Terminal.bytes(outcome.bytes)) "
                        + "(\(RestoreMessages.counts(outcome.report.counts)))")
                    print(outcome.path)
                }
            }
        }

        static func jobName(_ type: String) -> String { type.replacingOccurrences(of: "_", with: " ") }
    }
}
