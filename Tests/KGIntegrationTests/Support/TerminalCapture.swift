import Foundation

/// What a user sees in a terminal: `kg` run under `script(1)`, which gives it a
/// pseudo-terminal, so that its progress lines are drawn as on a screen. The
/// capture is split into the frames the user saw (each `\r` or newline ends one),
/// with terminal escapes removed.
struct TerminalCapture {
    let exitCode: Int32
    let frames: [String]
    let raw: String

    var text: String { frames.joined(separator: "\n") }
}

extension TestStack {
    /// `prefix` runs before `kg` (e.g. `timeout -s INT 2`: Ctrl-C after two seconds).
    func kgInTerminal(_ arguments: [String], prefix: [String] = [], extra: [String: String] = [:], timeout: Double = 600) throws -> TerminalCapture {
        func quoted(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let command = (prefix + [binDir + "/kg"] + arguments).map(quoted).joined(separator: " ")
        var environment = cliEnvironment(home: nil, extra: extra)
        environment["TERM"] = "xterm"
        environment["COLUMNS"] = "160"
        let result = try runCommand("/usr/bin/script", ["-qfec", command, "/dev/null"], environment: environment, timeout: timeout)
        let raw = result.stdout
        let plain = raw.replacingOccurrences(of: "\u{1B}\\[[0-9;?]*[A-Za-z]", with: "", options: .regularExpression)
        let frames = plain.components(separatedBy: CharacterSet(charactersIn: "\r\n"))
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return TerminalCapture(exitCode: result.exitCode, frames: frames, raw: raw)
    }
}
