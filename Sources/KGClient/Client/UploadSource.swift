import CCurl

/// The bytes of an upload's file part made while sending (decrypted as they go,
/// for instance): exactly `size` bytes, handed out by `read`, which fills the
/// buffer it is given and returns how many bytes it wrote (0 only at the end).
/// A `read` that throws aborts the transfer; the error is kept in `failure`.
public final class UploadSource {
    public let size: Int64
    /// Fills `buffer` with the next bytes; returns how many (0 at the end). Throws what the reader throws.
    public let read: (UnsafeMutableRawBufferPointer) throws -> Int
    public private(set) var failure: Error?

    public init(size: Int64, read: @escaping (UnsafeMutableRawBufferPointer) throws -> Int) {
        self.size = size
        self.read = read
    }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard failure == nil else { return Int(CURL_READFUNC_ABORT) }
        do {
            return try read(buffer)
        } catch {
            failure = error
            return Int(CURL_READFUNC_ABORT)
        }
    }
}
