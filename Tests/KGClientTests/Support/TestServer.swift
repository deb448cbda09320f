import Foundation

/// The Python fixture server (Fixtures/test_server.py) on a free port of
/// 127.0.0.1, for the lifetime of one test class.
final class TestServer: @unchecked Sendable {
    static let token = "secret-token"

    let port: Int
    private let process: Process

    var baseURL: String { "http://127.0.0.1:\(port)" }

    init() throws {
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/test_server.py")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", script.path, "--port", "0"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()

        // The server prints "PORT <n>" once it listens.
        var buffer = Data()
        while !buffer.contains(UInt8(ascii: "\n")) {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { throw TestServerError.noPort(String(decoding: buffer, as: UTF8.self)) }
            buffer.append(data)
        }
        let line = String(decoding: buffer, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else { throw TestServerError.noPort(line) }
        self.port = port
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit { stop() }
}

enum TestServerError: Error {
    case noPort(String)
}
