import ArgumentParser
import Foundation
import KGFormat

/// `kg ontology …`: operations on one ontology.
struct OntologyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ontology", abstract: "List the ontologies; delete one (admin role).", subcommands: [List.self, Delete.self])

    /// `kg ontology delete NAME [--yes] [--dry-run] [--checkpoint|--no-checkpoint] [--keep-checkpoint] [--no-wait] [--json]`.
    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete an ontology: its sources and instances, the concepts only it mentions, and their relationships.",
            discussion: """
                Runs as a job on the server, in batches, guarded by a checkpoint: on any failure the graph is \
                rolled back to it. Unless --yes or --dry-run, kg asks you to type the ontology's name. \
                Exit codes: 0 deleted, 1 failed (rolled back) or refused, 2 usage, 3 server unreachable, 4 not permitted.

                EXAMPLES:
                  kg ontology delete "Philosophy of Mind" --dry-run
                  kg ontology delete "Philosophy of Mind"
                  kg ontology delete "Philosophy of Mind" --yes --keep-checkpoint
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var risky: RiskyOptions

        @Argument(help: "The ontology's name.") var name: String

        @Flag(name: [.short, .long], help: "Do not ask for confirmation (needed when standard input is not a terminal).")
        var yes = false

        @Flag(name: .long, help: "Count what would be removed; change nothing.")
        var dryRun = false

        func validate() throws {
            if name.isEmpty { throw ValidationError("NAME must not be empty") }
            if !yes && !dryRun && !Terminal.stdinIsTTY {
                throw ValidationError(
                    "standard input is not a terminal, so kg cannot ask for confirmation: pass --yes to confirm in scripts (or --dry-run to only count)"
                )
            }
        }

        func run() throws {
            let config = try global.config()
            if !yes && !dryRun {
                Terminal.error(
                    "About to delete ontology \"\(name)\" on \(global.serverURL(config)): its sources, their instances, "
                        + "the concepts only it mentions and their relationships (a checkpoint is taken first unless --no-checkpoint).")
                FileHandle.standardError.write(Data("Type the ontology's name to confirm: ".utf8))
                guard readLine()?.trimmingCharacters(in: .whitespacesAndNewlines) == name else {
                    throw CLIError("ontology delete aborted; nothing was changed")
                }
            }
            var body = risky.body
            body["dry_run"] = dryRun
            body["name"] = name
            try GraphOperationRun(
                client: try global.client(config), eventsClient: try global.client(config), operation: .ontologyDelete,
                path: "/admin/ontology/delete", body: body, json: output.json
            ).run()
        }
    }
}
