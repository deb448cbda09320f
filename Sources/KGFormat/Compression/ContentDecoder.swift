import CZlib

/// Turns the bytes of a backup file into the bytes of its JSON document,
/// whether or not the file is gzip-compressed.
///
/// gzip is recognised by content (the magic bytes `1f 8b` at the very start),
/// never by file name. Concatenated gzip members are decoded one after another,
/// as `gunzip` does. Output is handed out in pieces of at most 64 KiB, so a
/// small file that inflates to gigabytes never needs that memory.
///
/// ```swift
/// let decoder = ContentDecoder(maxDecompressedBytes: 8 << 30)
/// for chunk in chunks {
///     try chunk.withUnsafeBytes { try decoder.decode($0) { try reader.feed($0) } }
/// }
/// try decoder.finish { try reader.feed($0) }
/// ```
public final class ContentDecoder {
    /// What the decoder found the content to be.
    public enum Encoding: Sendable, Equatable {
        /// Fewer than two bytes seen so far.
        case undetermined
        case identity
        case gzip
    }

    /// The most bytes gzip content may inflate to; `nil` for no limit.
    /// Plain (uncompressed) content is not counted against it.
    public let maxDecompressedBytes: Int?
    /// What the content turned out to be, once two bytes have been seen.
    public private(set) var encoding: Encoding = .undetermined
    /// Bytes handed to the sink so far.
    public private(set) var decodedByteCount: Int = 0
    /// Bytes received so far.
    public private(set) var encodedByteCount: Int = 0

    private var pending: [UInt8] = []  // the first byte, while we wait for the second
    private var stream: ZStream?
    private var memberInProgress = false  // inside a gzip member that has not ended yet
    private var completedMembers = 0
    private var failed: CompressionError?
    private var output = [UInt8](repeating: 0, count: 64 * 1024)

    /// - Parameter maxDecompressedBytes: the most bytes gzip content may inflate to.
    public init(maxDecompressedBytes: Int? = nil) {
        self.maxDecompressedBytes = maxDecompressedBytes
    }

    deinit {
        if let stream { inflateEnd(stream.pointer) }
    }

    /// Decodes `chunk`, passing each piece of output to `sink` before
    /// returning. Errors from `sink` propagate unchanged.
    public func decode(_ chunk: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failed { throw failed }
        encodedByteCount += chunk.count
        guard !chunk.isEmpty else { return }
        switch encoding {
        case .identity, .gzip:
            try dispatch(chunk, sink)
        case .undetermined:
            guard pending.count + chunk.count >= 2 else {
                pending.append(contentsOf: chunk)
                return
            }
            let first = pending.first ?? chunk[0]
            let second = pending.count == 1 ? chunk[0] : chunk[1]
            encoding = (first == 0x1f && second == 0x8b) ? .gzip : .identity
            // A byte held back from an earlier chunk goes first.
            let held = pending
            pending = []
            try held.withUnsafeBytes { try dispatch($0, sink) }
            try dispatch(chunk, sink)
        }
    }

    /// Decodes `chunk` and returns the output (convenient for small inputs;
    /// prefer the callback form for large ones).
    public func decode(_ chunk: some Collection<UInt8>) throws -> [UInt8] {
        var result: [UInt8] = []
        let bytes = Array(chunk)
        try bytes.withUnsafeBytes { try decode($0) { result.append(contentsOf: $0) } }
        return result
    }

    /// Ends the content. Throws when a gzip stream stopped in the middle
    /// of a member (the file is truncated).
    public func finish(into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failed { throw failed }
        switch encoding {
        case .undetermined:
            // One byte (or none) cannot be gzip; pass it on as it is.
            encoding = .identity
            let head = pending
            pending = []
            try head.withUnsafeBytes { try emit($0, sink) }
        case .identity:
            break
        case .gzip:
            if memberInProgress { throw fail(.truncated) }
        }
    }

    /// Ends the content and returns any remaining output.
    public func finish() throws -> [UInt8] {
        var result: [UInt8] = []
        try finish { result.append(contentsOf: $0) }
        return result
    }

    private func dispatch(_ bytes: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !bytes.isEmpty else { return }
        if encoding == .gzip {
            try inflate(bytes, sink)
        } else {
            try emit(bytes, sink)
        }
    }

    private func emit(_ bytes: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !bytes.isEmpty else { return }
        decodedByteCount += bytes.count
        try sink(bytes)
    }

    private func fail(_ reason: CompressionError.Reason) -> CompressionError {
        let error = CompressionError(reason)
        failed = error
        return error
    }

    private func inflate(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let z: UnsafeMutablePointer<z_stream>
        if let stream {
            z = stream.pointer
        } else {
            let created = ZStream()
            // windowBits 31: gzip wrapper only, 32 KiB window.
            let rc = kg_inflateInit2(created.pointer, 31)
            guard rc == Z_OK else { throw fail(.zlib(code: rc, message: "inflateInit2 failed")) }
            stream = created
            z = created.pointer
        }
        z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = uInt(input.count)
        defer {
            z.pointee.next_in = nil
            z.pointee.avail_in = 0
        }
        try output.withUnsafeMutableBytes { out in
            let outBase = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            while z.pointee.avail_in > 0 {
                if !memberInProgress {
                    // More bytes after a finished member: the next member of a
                    // concatenated gzip file (inflate rejects anything else).
                    if completedMembers > 0 { inflateReset(z) }
                    memberInProgress = true
                }
                let availableBefore = z.pointee.avail_in
                z.pointee.next_out = outBase
                z.pointee.avail_out = uInt(out.count)
                let rc = CZlib.inflate(z, Z_NO_FLUSH)
                let produced = out.count - Int(z.pointee.avail_out)
                if produced > 0 {
                    if let limit = maxDecompressedBytes, decodedByteCount + produced > limit {
                        throw fail(.tooLarge(limit: limit))
                    }
                    try emit(UnsafeRawBufferPointer(rebasing: out[0..<produced]), sink)
                }
                switch rc {
                case Z_STREAM_END:
                    memberInProgress = false
                    completedMembers += 1
                case Z_OK, Z_BUF_ERROR:
                    // Z_BUF_ERROR: no progress this round; with input and an
                    // empty output buffer that cannot repeat, but guard anyway.
                    if produced == 0 && z.pointee.avail_in == availableBefore {
                        throw fail(.corrupt("inflate made no progress"))
                    }
                case Z_DATA_ERROR:
                    if completedMembers > 0 && z.pointee.total_out == 0 {
                        throw fail(.corrupt("unexpected bytes after the end of the gzip stream"))
                    }
                    throw fail(.corrupt(stream?.errorMessage ?? "invalid data"))
                case Z_MEM_ERROR:
                    throw fail(.zlib(code: rc, message: "out of memory"))
                default:
                    throw fail(.zlib(code: rc, message: stream?.errorMessage ?? "inflate failed"))
                }
            }
        }
    }
}
