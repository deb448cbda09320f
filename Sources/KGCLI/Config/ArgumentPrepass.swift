import ArgumentParser

/// Looks at the words of a command line before ArgumentParser does, for two
/// things it cannot do alone:
/// - a mistyped subcommand (`kg admin bakup`) is named, with the nearest
///   command, as git and kubectl do, instead of blaming the next option;
/// - the global options (`--server`, `--token`, `--cacert`) may stand anywhere,
///   `kg --server URL job list` included: they are moved after the subcommand,
///   where every server-facing command declares them.
enum ArgumentPrepass {
    /// The global options that take a value.
    static let globalOptions: Set<String> = ["--server", "--token", "--cacert", "--limit-download", "--limit-upload"]

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
                if let nearest = nearest(word, among: candidates) {
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

    /// The candidate closest to `word` by edit distance, if it is close enough to be a typo
    /// (at most 2 edits, or a third of the word), or the only one `word` begins.
    static func nearest(_ word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word, $0)) }.sorted { $0.1 < $1.1 }
        if let best = scored.first, best.1 <= max(2, word.count / 3) { return best.0 }
        let prefixed = candidates.filter { $0.hasPrefix(word) }
        return prefixed.count == 1 ? prefixed[0] : nil
    }

    /// Levenshtein distance with adjacent swaps counted as one edit.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { table[i][0] = i }
        for j in 0...b.count { table[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, table[i - 2][j - 2] + 1)
                }
                table[i][j] = best
            }
        }
        return table[a.count][b.count]
    }
}
