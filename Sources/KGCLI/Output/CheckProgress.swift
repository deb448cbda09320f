import Crypto
import Foundation
import KGFormat

/// The local integrity check of a file with a progress line (on a terminal):
/// `checking  48.2%  [####----]  120.0 MB / 249.0 MB  85.0 MB/s  ETA 0:01`,
/// so that a large file is never seconds of silence.
enum CheckProgress {
    static func check(path: String, label: String = "checking") -> IntegrityReport {
        checkAndHash(path: path, label: label).report
    }

    /// The same check, and the file's SHA-256 from the same read compared with
    /// its `<file>.sha256` (``DigestFile``) when it has one.
    static func checkWithDigest(path: String, label: String = "checking") -> (report: IntegrityReport, digest: DigestFile.Status) {
        let (report, sha256) = checkAndHash(path: path, label: label)
        return (report, DigestFile.status(for: path, actual: sha256))
    }

    /// The check and the file's SHA-256 (lower-case hex) from one read: a restore keys its
    /// upload session by it, and reading the file again only to hash it cost a second pass.
    static func checkAndHash(path: String, label: String = "checking") -> (report: IntegrityReport, sha256: String) {
        let total = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let line = ProgressLine()
        line.update(force: true) { "\(label) \((path as NSString).lastPathComponent)…" }
        var hasher = SHA256()
        let report = BackupFileChecker.check(
            path: path, idMemoryBytes: CLIConfig.idCheckMemoryBytes,
            progress: { done in
                line.update { status(label: label, done: done, total: total, elapsed: line.elapsed) }
            }, observe: { hasher.update(bufferPointer: $0) })
        line.clear()
        return (report, DigestFile.hex(hasher.finalize()))
    }

    /// The file's SHA-256 alone (a restore whose check rides along its upload keys its session by it):
    /// a read at the disk's speed, with the same progress line. nil when the file cannot be read.
    static func hash(path: String, label: String = "reading") -> String? {
        let total = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let line = ProgressLine()
        defer { line.clear() }
        line.update(force: true) { "\(label) \((path as NSString).lastPathComponent)…" }
        var hasher = SHA256()
        var done: Int64 = 0
        do {
            try ChunkedFileReader.read(path: path) { bytes in
                hasher.update(bufferPointer: bytes)
                done += Int64(bytes.count)
                line.update { status(label: label, done: done, total: total, elapsed: line.elapsed) }
            }
        } catch {
            return nil
        }
        return DigestFile.hex(hasher.finalize())
    }

    static func status(label: String, done: Int64, total: Int64, elapsed: Double) -> String {
        let fraction = total > 0 ? Double(done) / Double(total) : 0
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        var parts = [
            label, UploadStatus.percent(fraction), Terminal.bar(fraction),
            "\(Terminal.bytes(done)) / \(Terminal.bytes(total))", "\(Terminal.bytes(Int64(rate)))/s",
        ]
        if done < total { parts.append("ETA " + (rate > 0 ? Terminal.duration(Double(total - done) / rate) : "--:--")) }
        return parts.joined(separator: "  ")
    }
}
