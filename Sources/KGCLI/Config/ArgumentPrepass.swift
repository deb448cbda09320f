import ArgumentParser
import KGFormat

/// Looks at the words of a command line before ArgumentParser does, for two
/// things it cannot do alone:
/// - a mistyped subcommand (`kg admin bakup`) is named, with the nearest
///   command, as git and kubectl do, instead of blaming the next option;
/// - the global options (`--server`, `--token`, `--cacert`) may stand anywhere,
///   `kg --server URL job list` included: they are moved after the subcommand,
///   where every server-facing command declares them.
enum ArgumentPrepass {
    /// The global options that take a value.
    static let globalOptions: Set<String> = ["--server", "--token", "--token-file", "--cacert", "--limit-download", "--limit-upload"]

    enum Outcome: Equatable {
        case arguments([String])
        /// An unknown subcommand: the message to print (exit 2).
        case unknownCommand(String)
    }

    static func run(_ arguments: [String], root: ParsableCommand.Type) -> Outcome {
        var command: ParsableCommand.Type = root
        var path: [String] = []
        var moved: [String] = []
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            if word == "--" { break }
            let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
            if globalOptions.contains(name) {
                moved.append(word)
                if !word.contains("="), index + 1 < arguments.count {
                    moved.append(arguments[index + 1])
                    index += 1
                }
                index += 1
                continue
            }
            let subcommands = command.configuration.subcommands
            if word.hasPrefix("-") || subcommands.isEmpty { break }
            if command == root && word == "help" { break }
            guard let next = subcommands.first(where: { names($0).contains(word) }) else {
                let parent = ([root._commandName] + path).joined(separator: " ")
                var message = "unknown command \"\(word)\" for \"\(parent)\""
                let candidates = subcommands.flatMap(names)
                if let nearest = NearestName.find(word, among: candidates) {
                    message += "; did you mean \"\(nearest)\"?"
                }
                return .unknownCommand(message + " (`\(parent) --help` lists the commands)")
            }
            path.append(word)
            command = next
            index += 1
        }
        return .arguments(path + moved + arguments[index...])
    }

    private static func names(_ command: ParsableCommand.Type) -> [String] {
        [command._commandName] + command.configuration.aliases
    }
}
