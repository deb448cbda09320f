import ArgumentParser
import Foundation

/// `kg`: back up and restore a knowledge graph through the kg gateway.
public struct KG: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kg",
        abstract: "Back up and restore a knowledge graph, with the files kept on your machine.",
        discussion: """
            Exit codes: 0 success, 1 the operation failed, 2 usage error, 3 server unreachable (or not safely: its TLS certificate could not be verified), \
            4 not authenticated or not permitted.
            """,
        version: "0.1.0",
        subcommands: [Login.self, Logout.self, ConfigCommand.self, Admin.self, OntologyCommand.self, JobCommand.self])

    public init() {}

    /// Runs the CLI with the contract's exit codes (ArgumentParser's usage errors become 2).
    public static func runMain() -> Never {
        let arguments: [String]
        switch ArgumentPrepass.run(Array(CommandLine.arguments.dropFirst()), root: KG.self) {
        case .arguments(let prepared): arguments = prepared
        case .unknownCommand(let message):
            Terminal.error("kg: \(message)")
            Foundation.exit(2)
        }
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            Foundation.exit(0)
        } catch let error as CLIError {
            Terminal.error("kg: \(error.message)")
            Foundation.exit(error.exitCode)
        } catch let error as ExitCode {
            Foundation.exit(error.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            Terminal.error(fullMessage(for: error))
            Foundation.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}
