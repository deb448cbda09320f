import Foundation
import KGTestSupport

/// A RabbitMQ cluster of the test's own (deploy/local/cluster.sh with a private folder, node
/// names, free ports and cookie): nodes are real Erlang processes, killed with -9 and started
/// again by the test. Never touches the shared broker. `stop()` leaves no process behind.
final class LocalCluster: @unchecked Sendable {
    let nodeCount: Int
    let directory: String
    let amqpPorts: [Int]
    let environment: [String: String]

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("deploy/local/cluster.sh").path

    init(nodes: Int = 3) throws {
        nodeCount = nodes
        let id = UUID().uuidString.lowercased().prefix(6)
        directory = NSTemporaryDirectory() + "kg-cluster-\(id)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        chmod(directory, 0o755)
        amqpPorts = (0..<nodes).map { _ in freePort() }
        let distPorts = (0..<nodes).map { _ in freePort() }
        environment = [
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "KG_CLUSTER_DIR": directory, "KG_CLUSTER_NODES": String(nodes),
            "KG_CLUSTER_NAME": "kgt\(id)n", "KG_CLUSTER_EPMD_PORT": String(freePort()),
            "KG_CLUSTER_AMQP_PORTS": amqpPorts.map(String.init).joined(separator: ","),
            "KG_CLUSTER_DIST_PORTS": distPorts.map(String.init).joined(separator: ","),
        ]
        do {
            try run("start", timeout: 300)
        } catch {
            stop()
            throw error
        }
    }

    /// `KG_AMQP_URLS` of the cluster.
    var urls: String { amqpPorts.map { "amqp://guest:guest@127.0.0.1:\($0)/%2f" }.joined(separator: ",") }

    /// The node (1-based) whose AMQP port is `port`.
    func node(port: Int) -> Int? { amqpPorts.firstIndex(of: port).map { $0 + 1 } }

    /// The node (1-based) that leads quorum queue `queue` now.
    func leader(of queue: String) throws -> Int {
        let r = try runCommand("/bin/bash", [Self.script, "leader", queue], environment: environment, timeout: 60)
        guard r.exitCode == 0, let n = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw StackError("cluster.sh leader \(queue) failed: \(r.summary)")
        }
        return n
    }

    /// kill -9 of node `n`'s Erlang VM.
    func kill(_ n: Int) throws { try run("kill", String(n)) }

    /// Starts node `n` again; returns once it accepts connections.
    func start(_ n: Int) throws { try run("start-node", String(n), timeout: 180) }

    /// Starts several nodes at once (after a full stop, nodes wait for each other to boot).
    func start(_ nodes: [Int]) throws {
        let group = DispatchGroup()
        let errors = ErrorBox()
        for n in nodes {
            group.enter()
            Thread.detachNewThread { [self] in
                do { try start(n) } catch { errors.add(error) }
                group.leave()
            }
        }
        group.wait()
        if let first = errors.first { throw first }
    }

    func stop() {
        _ = try? runCommand("/bin/bash", [Self.script, "stop"], environment: environment, timeout: 120)
        if ProcessInfo.processInfo.environment["KG_KEEP_TEST_FILES"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    private func run(_ arguments: String..., timeout: Double = 60) throws {
        let r = try runCommand("/bin/bash", [Self.script] + arguments, environment: environment, timeout: timeout)
        guard r.exitCode == 0 else { throw StackError("cluster.sh \(arguments.joined(separator: " ")) failed: \(r.summary)") }
    }
}

private final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []
    func add(_ error: Error) {
        lock.lock()
        errors.append(error)
        lock.unlock()
    }
    var first: Error? {
        lock.lock()
        defer { lock.unlock() }
        return errors.first
    }
}
