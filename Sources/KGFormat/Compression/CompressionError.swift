/// Why a gzip or zstd stream could not be compressed or decompressed.
public struct CompressionError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The gzip stream ends before its last member is complete.
        case truncated
        /// Decompressing would produce more than the configured limit.
        case tooLarge(limit: Int)
        /// The bytes are not valid gzip/deflate data.
        case corrupt(String)
        /// zlib failed for another reason (out of memory, bad parameters).
        case zlib(code: Int32, message: String)
        /// The bytes are not valid zstd data, or libzstd failed.
        case zstd(String)
        /// The zstd stream ends inside a frame.
        case zstdTruncated
    }

    public let reason: Reason
    /// A message for people: what happened and what to do next.
    public let message: String

    public init(_ reason: Reason) {
        self.reason = reason
        switch reason {
        case .truncated:
            message = "the gzip stream ends early: the file is truncated (an interrupted download or copy?); fetch or re-create it"
        case .tooLarge(let limit):
            message =
                "the compressed stream decompresses to more than \(limit) bytes, the configured limit; refusing to inflate further (a gzip bomb or zstd bomb, or raise the limit)"
        case .corrupt(let detail):
            message = "the gzip data is corrupt (\(detail)); the file is damaged"
        case .zlib(let code, let detail):
            message = "zlib failed (code \(code): \(detail))"
        case .zstdTruncated:
            message = "the zstd stream ends early: the file is truncated (an interrupted download or copy?); fetch or re-create it"
        case .zstd(let detail):
            message = "the zstd data is corrupt or cannot be decoded (\(detail)); the file is damaged"
        }
    }

    public var description: String { message }
}
