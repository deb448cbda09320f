import Foundation
import XCTest

/// Issue 17's figures: a full backup's time, size and the CLI's peak RSS with
/// none, gzip, zstd, age and zstd + age, through the real stack (debug build
/// unless run against a release one). Prints figures, asserts nothing about time.
/// Opt-in (about a minute): KG_BENCH_ARCHIVE=1, KG_BENCH_ARCHIVE_CONCEPTS (default 1650, ~50 MB).
final class ArchiveBenchmarkTests: XCTestCase {
    func testBackupTimeSizeAndMemoryPerCompressionAndEncryption() throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment["KG_BENCH_ARCHIVE"] == "1" else { throw XCTSkip("opt-in: KG_BENCH_ARCHIVE=1") }
        let concepts = Int(environment["KG_BENCH_ARCHIVE_CONCEPTS"] ?? "") ?? 1650
        let stack = try TestStack(workers: 1)
        defer { stack.stop() }
        try stack.loadSample(concepts: concepts, ontologies: 5, dimensions: 1536)
        try stack.login()
        let keys = stack.root + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        XCTAssertEqual(try runCommand("/usr/bin/age-keygen", ["-o", keys + "/k.txt"], environment: ["PATH": "/usr/bin:/bin"]).exitCode, 0)
        let recipient = try runCommand("/usr/bin/age-keygen", ["-y", keys + "/k.txt"], environment: ["PATH": "/usr/bin:/bin"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let variants: [(String, [String])] = [
            ("warm-up", []), ("none", []), ("gzip", ["--compress", "gzip"]), ("zstd", ["--compress", "zstd"]),
            ("age", ["--recipient", recipient]), ("zstd+age", ["--compress", "zstd", "--recipient", recipient]), ("none again", []),
        ]
        var lines: [String] = []
        for (name, extra) in variants {
            let r = try runCommand(
                "/usr/bin/time", ["-f", "TIME %e %M", try TestEnvironment.binDir() + "/kg", "admin", "backup", "--type", "full"] + extra,
                environment: stack.cliEnvironment())
            XCTAssertEqual(r.exitCode, 0, r.summary)
            let path = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            let figures = r.stderr.split(separator: "\n").last { $0.hasPrefix("TIME ") }?.split(separator: " ") ?? []
            let line =
                name.padding(toLength: 11, withPad: " ", startingAt: 0)
                + String(
                    format: " %8.1f MB  %6.2f s  CLI peak RSS %6.1f MB", Double(size) / 1e6,
                    Double(figures.dropFirst().first ?? "0") ?? 0, (Double(figures.last ?? "0") ?? 0) / 1024)
            lines.append(line)
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: path + ".sha256")
        }
        print("archive bench (\(concepts) concepts, 1536 dimensions):\n" + lines.joined(separator: "\n"))
    }
}
