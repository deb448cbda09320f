import Foundation
import KGTestSupport
import XCTest

/// Issue 18's figures for a large restore upload: a gateway killed halfway, restarted, and the
/// upload continued with `--resume`: the bytes that crossed the proxy against the file (< 1.1×
/// required), and how long the new gateway took to rebuild its check from the stored prefix
/// (what re-reading the whole file at the end would cost on every upload). Prints figures.
/// Opt-in: KG_BENCH_RESUME=1, KG_BENCH_RESUME_CONCEPTS (default 16500, ~500 MB).
final class ResumeUploadBenchmarkTests: XCTestCase {
    func testResumedLargeUploadAfterAGatewayRestart() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["KG_BENCH_RESUME"] == "1" else { throw XCTSkip("opt-in: KG_BENCH_RESUME=1") }
        let concepts = Int(environment["KG_BENCH_RESUME_CONCEPTS"] ?? "") ?? 16500
        // The proxy writes to a gateway that was killed: an EPIPE, not a signal that ends the test process.
        signal(SIGPIPE, SIG_IGN)
        let stack = try TestStack(workers: 1)
        defer { stack.stop() }
        var phase = Date()
        try stack.loadSample(concepts: concepts, ontologies: 5, dimensions: 1536)
        try stack.login()
        print(String(format: "resume bench: sample loaded in %.1f s", Date().timeIntervalSince(phase)))
        phase = Date()
        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary)
        let file = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let fileBytes = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0
        print(String(format: "resume bench: backup of %.1f MB in %.1f s", Double(fileBytes) / 1e6, Date().timeIntervalSince(phase)))
        let proxy = try TCPProxy(targetHost: "127.0.0.1", targetPort: stack.gatewayPorts[0])
        defer { proxy.stop() }
        let env = stack.cliEnvironment(extra: ["KG_API_URL": "http://127.0.0.1:\(proxy.port)", "KG_TOKEN": try stack.token()])

        let started = Date()
        let cli = try ManagedProcess(
            name: "kg-restore-big", executable: stack.binDir + "/kg",
            arguments: ["admin", "restore", file, "--yes", "--dry-run", "--retries", "0"],
            environment: env, logDir: stack.root + "/logs")
        while proxy.bytesForwarded.toTarget < fileBytes / 2, cli.isRunning { usleep(20_000) }
        stack.gateways[0].killHard()
        cli.process.waitUntilExit()
        let firstHalf = Date().timeIntervalSince(started)
        try stack.restartGateway()
        let resumed = Date()
        let r = try runCommand(stack.binDir + "/kg", ["admin", "restore", file, "--yes", "--dry-run", "--resume"], environment: env)
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        let crossed = proxy.bytesForwarded.toTarget
        let rebuilt =
            stack.logs.split(separator: "\n").last { $0.contains("restore upload check rebuilt from the stored prefix") }
            .map(String.init) ?? "(no rebuild logged)"
        print(
            String(
                format: "resume bench: file %.1f MB; %.1f MB crossed the proxy (%.3f×); first run %.1f s until the kill, "
                    + "resumed run %.1f s (upload, check, dry-run restore)", Double(fileBytes) / 1e6, Double(crossed) / 1e6,
                Double(crossed) / Double(fileBytes), firstHalf, Date().timeIntervalSince(resumed)))
        print("resume bench: \(rebuilt)")
        XCTAssertLessThan(Double(crossed), 1.1 * Double(fileBytes))
    }
}
