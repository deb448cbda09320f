import Foundation
import XCTest

/// Issue 16 item 1's figures: the worker's CPU time and the restore job's wall time for
/// replace restores of the same backup, written metadata first (kg's order) and data first
/// (the order that needs a full check pass before loading), through the real stack with
/// one worker (debug build unless run against a release one). Prints figures, asserts
/// only that each restore completed.
/// Opt-in: KG_BENCH_RESTORE=1, KG_BENCH_RESTORE_CONCEPTS (default 2000), KG_BENCH_RESTORE_RUNS (default 3).
final class RestoreReadBenchmarkTests: XCTestCase {
    func testWorkerCPUAndWallPerRestoreOfTheSameFile() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["KG_BENCH_RESTORE"] == "1" else { throw XCTSkip("opt-in: KG_BENCH_RESTORE=1") }
        let concepts = Int(environment["KG_BENCH_RESTORE_CONCEPTS"] ?? "") ?? 2000
        let runs = Int(environment["KG_BENCH_RESTORE_RUNS"] ?? "") ?? 3
        let stack = try TestStack(workers: 1)
        defer { stack.stop() }
        try stack.loadSample(concepts: concepts, ontologies: 5, dimensions: 256)
        try stack.login()
        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary)
        let path = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let dataFirst = stack.root + "/data-first.json"
        let rewrite = try runCommand(stack.binDir + "/kg-sample", ["data-first", path, dataFirst], environment: ["PATH": "/usr/bin:/bin"])
        XCTAssertEqual(rewrite.exitCode, 0, rewrite.summary)
        let worker = try XCTUnwrap(stack.workers["w1"])
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0

        var lines: [String] = []
        for (name, file) in [("warm-up", path), ("metadata first", path), ("data first", dataFirst)] {
            var cpu: [Double] = []
            var wall: [Double] = []
            for _ in 0..<(name == "warm-up" ? 1 : runs) {
                let before = ProcessFootprint(pid: worker.pid).cpuSeconds
                let (status, json) = try stack.uploadRestore(file, fields: ["mode": "replace"])
                XCTAssertEqual(status, 202, "\(json)")
                let job = try stack.waitForJob(try XCTUnwrap(json["job_id"] as? String), timeout: 600)
                XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
                cpu.append(ProcessFootprint(pid: worker.pid).cpuSeconds - before)
                wall.append(Self.seconds(job))
            }
            let median = { (values: [Double]) in values.sorted()[values.count / 2] }
            lines.append(
                name.padding(toLength: 15, withPad: " ", startingAt: 0)
                    + String(format: "  worker CPU %6.2f s  job wall %6.2f s  (median of %d)", median(cpu), median(wall), cpu.count))
        }
        print("restore read bench (\(concepts) concepts, \(size / 1_000_000) MB file, one worker):\n" + lines.joined(separator: "\n"))
    }

    /// The job's own wall time: its result's `seconds` (the restore's stages, checking to commit).
    private static func seconds(_ job: [String: Any]) -> Double {
        ((job["result"] as? [String: Any])?["seconds"] as? NSNumber)?.doubleValue ?? -1
    }
}
