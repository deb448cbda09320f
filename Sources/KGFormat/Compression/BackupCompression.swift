/// How a backup file is compressed: the request's `compression` value, the
/// file name's ending and the HTTP content type. Readers never go by these:
/// ``ContentDecoder`` recognises gzip and zstd by their magic bytes.
public enum BackupCompression: String, Sendable, CaseIterable, Codable {
    case none
    case gzip
    case zstd

    /// `.gz`, `.zst`, or nothing, appended after `.json`.
    public var fileSuffix: String {
        switch self {
        case .none: return ""
        case .gzip: return ".gz"
        case .zstd: return ".zst"
        }
    }

    public var contentType: String {
        switch self {
        case .none: return "application/json"
        case .gzip: return "application/gzip"
        case .zstd: return "application/zstd"
        }
    }

    /// A compressor for this choice; nil for `.none`.
    public func makeCompressor() throws -> StreamCompressor? {
        switch self {
        case .none: return nil
        case .gzip: return try GzipCompressor()
        case .zstd: return try ZstdCompressor()
        }
    }
}
