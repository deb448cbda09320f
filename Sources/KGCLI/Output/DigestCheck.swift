import Crypto
import Foundation
import KGFormat

/// Reads a file once to compare its SHA-256 with its `<file>.sha256`, with a
/// progress line on a terminal (`list-backups --check`).
enum DigestCheck {
    static func status(path: String) -> DigestFile.Status {
        let total = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let label = "sha256 " + (path as NSString).lastPathComponent
        let line = ProgressLine()
        defer { line.clear() }
        var hasher = SHA256()
        var done: Int64 = 0
        do {
            try ChunkedFileReader.read(path: path, chunkSize: 1 << 20) { chunk in
                hasher.update(bufferPointer: chunk)
                done += Int64(chunk.count)
                line.update { CheckProgress.status(label: label, done: done, total: total, elapsed: line.elapsed) }
            }
        } catch {
            return .unreadable("\(error)")
        }
        return DigestFile.status(for: path, actual: DigestFile.hex(hasher.finalize()))
    }
}
