import Foundation
import KGFormat

/// The local integrity check of a file with a progress line (on a terminal):
/// `checking  48.2%  [####----]  120.0 MB / 249.0 MB  85.0 MB/s  ETA 0:01`,
/// so that a large file is never seconds of silence.
enum CheckProgress {
    static func check(path: String, label: String = "checking") -> IntegrityReport {
        let total = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let line = ProgressLine()
        line.update(force: true) { "\(label) \((path as NSString).lastPathComponent)…" }
        let report = BackupFileChecker.check(path: path, idMemoryBytes: CLIConfig.idCheckMemoryBytes) { done in
            line.update { status(label: label, done: done, total: total, elapsed: line.elapsed) }
        }
        line.clear()
        return report
    }

    static func status(label: String, done: Int64, total: Int64, elapsed: Double) -> String {
        let fraction = total > 0 ? Double(done) / Double(total) : 0
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var parts = [label, UploadStatus.percent(fraction), Terminal.bar(fraction),
                     "\(Terminal.bytes(done)) / \(Terminal.bytes(total))", "\(Terminal.bytes(Int64(rate)))/s"]
        if done < total { parts.append("ETA " + (rate > 0 ? Terminal.duration(Double(total - done) / rate) : "--:--")) }
        return parts.joined(separator: "  ")
    }
}
