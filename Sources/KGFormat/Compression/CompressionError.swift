/// Why a gzip stream could not be compressed or decompressed.
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
            message = "the gzip stream decompresses to more than \(limit) bytes, the configured limit; refusing to inflate further (a gzip bomb, or raise the limit)"
        case .corrupt(let detail):
            message = "the gzip data is corrupt (\(detail)); the file is damaged"
        case .zlib(let code, let detail):
            message = "zlib failed (code \(code): \(detail))"
        }
    }

    public var description: String { message }
}
