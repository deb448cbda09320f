import ArgumentParser
import Foundation
import KGFormat

extension Admin {
    /// `kg admin prune [--dry-run] [--checkpoint|--no-checkpoint] [--keep-checkpoint] [--no-wait] [--json]`.
    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove orphaned instances, concepts no source mentions any more, and their relationships.",
            discussion: """
                Runs as a job on the server, in batches, guarded by a checkpoint: on any failure the graph is \
                rolled back to it. --dry-run only counts. Prints the job id (with --json: {"job_id", "status", "result"}). \
                Exit codes: 0 done, 1 failed (rolled back) or refused, 2 usage, 3 server unreachable, 4 not permitted.

                EXAMPLES:
                  kg admin prune --dry-run
                  kg admin prune
                  kg admin prune --keep-checkpoint --no-wait
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var risky: RiskyOptions

        @Flag(name: .long, help: "Count what would be removed; change nothing.")
        var dryRun = false

        func run() throws {
            let config = try global.config()
            var body = risky.body
            body["dry_run"] = dryRun
            try GraphOperationRun(
                client: try global.client(config), eventsClient: try global.client(config), operation: .prune,
                path: "/admin/prune", body: body, json: output.json
            ).run()
        }
    }
}
