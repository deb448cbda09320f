import Foundation
import KGAge
import KGClient
import KGFormat

/// An age file's plaintext for an upload, decrypted from the file as libcurl
/// asks for bytes (a chunk or two in memory; nothing decrypted on disk).
enum AgeUpload {
    /// The plaintext from byte `offset` (a resumed upload): the bytes before it are decrypted and dropped,
    /// so the bytes sent are exactly those an upload from the start sends from there.
    static func source(path: String, key: AgeDecryptor.Key, size: Int64, from offset: Int64 = 0) throws -> UploadSource {
        let source = try plaintext(path: path, key: key, size: size)
        guard offset > 0 else { return source }
        var skipped: Int64 = 0
        var scratch = [UInt8](repeating: 0, count: 256 * 1024)
        while skipped < offset {
            let wanted = Int(min(Int64(scratch.count), offset - skipped))
            let n = try scratch.withUnsafeMutableBytes { try source.read(UnsafeMutableRawBufferPointer(rebasing: $0[0..<wanted])) }
            guard n > 0 else { throw CLIError("\(path) decrypts to fewer than \(offset) bytes: it changed since the upload began") }
            skipped += Int64(n)
        }
        return UploadSource(size: size - offset) { try source.read($0) }
    }

    private static func plaintext(path: String, key: AgeDecryptor.Key, size: Int64) throws -> UploadSource {
        let cursor: FileCursor
        do { cursor = try FileCursor(path: path) } catch { throw CLIError(error.message) }
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        let decryptor = AgeDecryptor(key: key)
        var pending: [UInt8] = []
        var offset = 0
        var ended = false
        return UploadSource(size: size) { buffer in
            while offset == pending.count && !ended {
                pending.removeAll(keepingCapacity: true)
                offset = 0
                let n = try chunk.withUnsafeMutableBytes { try cursor.read(into: $0) }
                if n > 0 {
                    try chunk.withUnsafeBytes {
                        try decryptor.decrypt(UnsafeRawBufferPointer(rebasing: $0[0..<n])) { pending.append(contentsOf: $0) }
                    }
                } else {
                    try decryptor.finish { pending.append(contentsOf: $0) }
                    ended = true
                }
            }
            let n = min(buffer.count, pending.count - offset)
            if n > 0 {
                pending.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + n)])) }
                offset += n
            }
            return n
        }
    }
}
