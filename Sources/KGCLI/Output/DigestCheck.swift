import Crypto
import Foundation

/// Reads a file once to compare its SHA-256 with its `<file>.sha256`, with a
/// progress line on a terminal (`list-backups --check`).
enum DigestCheck {
    static func status(path: String) -> DigestFile.Status {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return .unreadable("cannot read \(path)")
        }
        defer { try? handle.close() }
        let total = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let label = "sha256 " + (path as NSString).lastPathComponent
        let line = ProgressLine()
        defer { line.clear() }
        var hasher = SHA256()
        var done: Int64 = 0
        while true {
            let chunk: Data
            do {
                guard let data = try handle.read(upToCount: 1 << 20), !data.isEmpty else { break }
                chunk = data
            } catch {
                return .unreadable("cannot read \(path): \(error.localizedDescription)")
            }
            hasher.update(data: chunk)
            done += Int64(chunk.count)
            line.update { CheckProgress.status(label: label, done: done, total: total, elapsed: line.elapsed) }
        }
        return DigestFile.status(for: path, actual: DigestFile.hex(hasher.finalize()))
    }
}
