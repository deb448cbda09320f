import Foundation
import KGTestSupport

/// A PostgreSQL and a RabbitMQ of a test's own (deploy/local/services.sh with a
/// private state folder and free ports), for fault tests that stop and restart
/// them without disturbing anything else.
final class PrivateServices: @unchecked Sendable {
    let state: String
    let environment: [String: String]
    let adminDatabaseURL: String
    let databaseURL: String
    let amqpURL: String

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/local/services.sh").path

    init() throws {
        state = NSTemporaryDirectory() + "kg-services-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        chmod(state, 0o755)
        environment = [
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "KG_STATE_DIR": state,
            "KG_PG_PORT": String(freePort()), "KG_AMQP_PORT": String(freePort()),
            "KG_EPMD_PORT": String(freePort()), "KG_AMQP_DIST_PORT": String(freePort()),
        ]
        let start = try runCommand("/bin/bash", [Self.script, "start"], environment: environment)
        guard start.exitCode == 0 else { throw StackError("private services did not start: \(start.summary)") }
        var values: [String: String] = [:]
        for line in try String(contentsOfFile: state + "/services.env", encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        adminDatabaseURL = values["KG_ADMIN_DATABASE_URL"] ?? ""
        databaseURL = values["KG_DATABASE_URL"] ?? ""
        amqpURL = values["KG_AMQP_URL"] ?? ""
    }

    /// Runs `services.sh <command>` (rabbitmq-stop, rabbitmq-start, postgres-restart, …).
    func run(_ command: String) throws {
        let r = try runCommand("/bin/bash", [Self.script, command], environment: environment)
        guard r.exitCode == 0 else { throw StackError("services.sh \(command) failed: \(r.summary)") }
    }

    func stop() {
        _ = try? runCommand("/bin/bash", [Self.script, "stop"], environment: environment)
        try? FileManager.default.removeItem(atPath: state)
    }
}
