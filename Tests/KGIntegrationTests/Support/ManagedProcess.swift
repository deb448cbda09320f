import Foundation

/// A child process of a test (gateway, worker, CLI), with its output in a log file.
final class ManagedProcess: @unchecked Sendable {
    let name: String
    let process = Process()
    let logPath: String

    init(name: String, executable: String, arguments: [String], environment: [String: String], logDir: String) throws {
        self.name = name
        logPath = "\(logDir)/\(name).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = log
        process.standardError = log
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// SIGTERM, then SIGKILL after `grace` seconds.
    func stop(grace: Double = 5) {
        guard process.isRunning else { return }
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { signal(SIGKILL) }
        process.waitUntilExit()
    }

    func killHard() {
        signal(SIGKILL)
        process.waitUntilExit()
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}

/// The result of running the CLI once.
struct CommandResult {
    let exitCode: Int32
    let stdout: String
    let stderr: String

    var summary: String { "exit \(exitCode)\nstdout: \(stdout)\nstderr: \(stderr)" }
}

/// Runs a command to completion, feeding `input` on standard input.
/// Output goes through temp files so that neither stream can block the child.
/// A command still running after `timeout` seconds is killed and the call
/// throws: a hung child fails its test instead of hanging the whole run.
func runCommand(
    _ executable: String, _ arguments: [String], environment: [String: String], input: String? = nil,
    timeout: Double = 600
) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = environment
    let base = NSTemporaryDirectory() + "kg-cmd-" + UUID().uuidString
    FileManager.default.createFile(atPath: base + ".out", contents: nil)
    FileManager.default.createFile(atPath: base + ".err", contents: nil)
    defer {
        unlink(base + ".out")
        unlink(base + ".err")
    }
    process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
    let inPipe = Pipe()
    process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
    try process.run()
    if let input {
        inPipe.fileHandleForWriting.write(Data(input.utf8))
        try? inPipe.fileHandleForWriting.close()
    }
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning {
        process.terminate()
        let grace = Date().addingTimeInterval(5)
        while process.isRunning && Date() < grace { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
        throw StackError(
            "\((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")) was still running after \(Int(timeout)) s and was killed; its stderr:\n\(stderr.suffix(3000))"
        )
    }
    process.waitUntilExit()
    return CommandResult(
        exitCode: process.terminationStatus,
        stdout: (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? "",
        stderr: (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? "")
}
