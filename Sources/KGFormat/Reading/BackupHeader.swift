import Foundation

/// What a backup file says about itself before its `data`: type, ontology,
/// schema version, time and producer, read from its first bytes only (gzip
/// decoded on the way), for listings that must not read whole files.
///
/// ```swift
/// let header = BackupHeader.peek(path: "full_backup_20261128_101500.json")
/// header?.type          // "full_backup"
/// ```
public struct BackupHeader: Sendable, Equatable {
    public var type: String?
    public var ontology: String?
    public var schemaVersion: Int?
    public var timestamp: String?
    /// `producer.name`: "kg" for kg's own files, nil for the platform's.
    public var producer: String?
    /// Whether `data` began within the bytes read (the metadata before it is then complete).
    public var sawData: Bool

    /// Nothing known (an encrypted file read without its key).
    public static let unknown = BackupHeader(type: nil, ontology: nil, schemaVersion: nil, timestamp: nil, producer: nil, sawData: false)

    /// Reads at most `limit` bytes of the file (compressed bytes for gzip); nil when
    /// they do not start a JSON object with a `version` or `type` before `data`.
    public static func peek(path: String, limit: Int = 1 << 20) -> BackupHeader? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var remaining = limit
        return peek {
            guard remaining > 0, let data = try? handle.read(upToCount: min(64 * 1024, remaining)), !data.isEmpty else { return nil }
            remaining -= data.count
            return [UInt8](data)
        }
    }

    /// The same from any source of chunks (nil: no more).
    public static func peek(_ next: () -> [UInt8]?) -> BackupHeader? {
        let peek = BackupHeaderPeek()
        let pipeline = BackupPipeline(maxDecompressedBytes: 16 << 20, observers: [peek.observe])
        do {
            while let chunk = next() { try pipeline.feed(chunk) }
        } catch is BackupPipeline.Stop {
        } catch {
            if peek.metadata.isEmpty { return nil }
        }
        return peek.header
    }

    /// Whether a plain (not compressed) file ends as a JSON document does: its
    /// last byte other than white space is `}`. A cheap sign that a file was not
    /// cut short; `kg admin verify` is the real check. Nil for gzip and zstd (the
    /// end says nothing without decompressing all of it).
    public static func plainFileEndsWhole(path: String) -> Bool? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: ContentDecoder.zstdMagic.count)) ?? Data())
        if let encoding = ContentDecoder.detect(head), encoding != .identity { return nil }
        guard let size = try? handle.seekToEnd(), size > 0 else { return false }
        let tail = UInt64(min(4096, size))
        try? handle.seek(toOffset: size - tail)
        let bytes = (try? handle.read(upToCount: Int(tail))) ?? Data()
        let last = bytes.reversed().first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        return last == UInt8(ascii: "}")
    }
}
