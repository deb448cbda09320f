import Crypto
import Foundation
import KGAge
import KGFormat

/// The local check of an age-encrypted backup: the file is read once, its
/// SHA-256 taken on the encrypted bytes (its `.sha256`), decrypted in memory as
/// it streams (nothing decrypted touches the disk) and fed to the integrity check.
enum AgeFileCheck {
    static func isAge(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: AgeDecryptor.magic.count)) ?? Data())
        return head == AgeDecryptor.magic
    }

    /// Throws ``CLIError`` when the key does not open the file (before anything was checked);
    /// a file changed after it was written is reported as damage in the digest status's place.
    static func check(path: String, key: AgeDecryptor.Key) throws
        -> (report: IntegrityReport, digest: DigestFile.Status, damage: String?, plainBytes: Int64, sha256: String)
    {
        let total = ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
        let line = ProgressLine()
        defer { line.clear() }
        let decryptor = AgeDecryptor(key: key)
        let checker = IntegrityChecker()
        var hasher = SHA256()
        var done: Int64 = 0
        var damage: String?
        var decrypted = false
        var plainBytes: Int64 = 0
        do {
            try ChunkedFileReader.read(path: path, chunkSize: 1 << 20) { chunk in
                hasher.update(bufferPointer: chunk)
                done += Int64(chunk.count)
                line.update { CheckProgress.status(label: "checking", done: done, total: total, elapsed: line.elapsed) }
                guard damage == nil else { return }
                do {
                    try decryptor.decrypt(chunk) {
                        decrypted = true
                        plainBytes += Int64($0.count)
                        checker.feed($0)
                    }
                } catch let error as AgeError {
                    if error.kind == .noMatch || (error.kind == .malformed && !decrypted) { throw CLIError(error.message) }
                    damage = error.message
                }
            }
        } catch let error as FileReadError {
            throw CLIError(error.message)
        }
        if damage == nil {
            do {
                try decryptor.finish {
                    plainBytes += Int64($0.count)
                    checker.feed($0)
                }
            } catch let error as AgeError {
                if error.kind == .noMatch { throw CLIError(error.message) }
                damage = error.message
            }
        }
        let report = checker.finish()
        let sha256 = DigestFile.hex(hasher.finalize())
        return (report, DigestFile.status(for: path, actual: sha256), damage, plainBytes, sha256)
    }

    /// The backup header of an age file, from its first decrypted bytes (nil without a key that opens it).
    static func peekHeader(path: String, key: AgeDecryptor.Key) -> BackupHeader? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let decryptor = AgeDecryptor(key: key)
        var plain: [[UInt8]] = []
        var read = 0
        return BackupHeader.peek {
            while plain.isEmpty {
                guard read < (4 << 20), let data = try? handle.read(upToCount: 256 * 1024), !data.isEmpty else {
                    try? decryptor.finish { plain.append(Array($0)) }
                    return plain.isEmpty ? nil : plain.removeFirst()
                }
                read += data.count
                do {
                    try data.withUnsafeBytes { try decryptor.decrypt($0) { plain.append(Array($0)) } }
                } catch {
                    return nil
                }
            }
            return plain.removeFirst()
        }
    }
}
