import CZlib
import CZstd
import Foundation

/// Turns the bytes of a backup file into the bytes of its JSON document,
/// whether it is plain, gzip- or zstd-compressed.
///
/// The compression is recognised by content (the magic bytes `1f 8b` for gzip,
/// `28 b5 2f fd` for zstd, at the very start), never by file name. Concatenated
/// gzip members (zstd frames) are decoded one after another, as `gunzip` (`zstd -d`) does. Output is handed out in pieces of at most 64 KiB, so a
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
        /// Too few bytes seen so far to tell.
        case undetermined
        case identity
        case gzip
        case zstd
    }

    public static let gzipMagic: [UInt8] = [0x1f, 0x8b]
    public static let zstdMagic: [UInt8] = [0x28, 0xb5, 0x2f, 0xfd]

    /// What a file's first bytes say it is (`.identity` for a file too short to tell or unreadable).
    public static func encoding(ofFileAt path: String) -> Encoding {
        guard let handle = FileHandle(forReadingAtPath: path) else { return .identity }
        defer { try? handle.close() }
        let head = [UInt8]((try? handle.read(upToCount: zstdMagic.count)) ?? Data())
        return detect(head) ?? .identity
    }

    /// The most bytes compressed content may inflate to; `nil` for no limit.
    /// Plain (uncompressed) content is not counted against it.
    public let maxDecompressedBytes: Int?
    /// What the content turned out to be, once enough bytes have been seen.
    public private(set) var encoding: Encoding = .undetermined
    /// Bytes handed to the sink so far.
    public private(set) var decodedByteCount: Int = 0
    /// Bytes received so far.
    public private(set) var encodedByteCount: Int = 0

    private var pending: [UInt8] = []  // the first bytes, while they may still start a magic number
    private var stream: ZStream?
    private var zstdStream: OpaquePointer?
    /// libzstd's last hint: 0 when a frame has just ended (nothing owed).
    private var zstdOwed = 0
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
        if let zstdStream { ZSTD_freeDStream(zstdStream) }
    }

    /// Decodes `chunk`, passing each piece of output to `sink` before
    /// returning. Errors from `sink` propagate unchanged.
    public func decode(_ chunk: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failed { throw failed }
        encodedByteCount += chunk.count
        guard !chunk.isEmpty else { return }
        switch encoding {
        case .identity, .gzip, .zstd:
            try dispatch(chunk, sink)
        case .undetermined:
            // The head: the bytes held back and as many of this chunk as a magic number is long.
            let head = pending + chunk.prefix(Self.zstdMagic.count - pending.count)
            if let decided = Self.detect(head) {
                encoding = decided
            } else {
                pending = head
                return
            }
            // The bytes held back from earlier chunks go first.
            let held = pending
            pending = []
            try held.withUnsafeBytes { try dispatch($0, sink) }
            try dispatch(chunk, sink)
        }
    }

    /// What `head` (the first bytes) says the content is; nil while it may still start a magic number.
    public static func detect(_ head: [UInt8]) -> Encoding? {
        for (magic, encoding) in [(gzipMagic, Encoding.gzip), (zstdMagic, Encoding.zstd)] {
            if head.starts(with: magic) { return encoding }
            if head.count < magic.count && magic.starts(with: head) { return nil }
        }
        return .identity
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
            // Fewer bytes than a magic number cannot be compressed; pass them on as they are.
            encoding = .identity
            let head = pending
            pending = []
            try head.withUnsafeBytes { try emit($0, sink) }
        case .identity:
            break
        case .gzip:
            if memberInProgress { throw fail(.truncated) }
        case .zstd:
            if zstdOwed != 0 { throw fail(.zstdTruncated) }
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
        } else if encoding == .zstd {
            try decompressZstd(bytes, sink)
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

    private func decompressZstd(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let context: OpaquePointer
        if let zstdStream {
            context = zstdStream
        } else {
            guard let created = ZSTD_createDStream() else { throw fail(.zstd("ZSTD_createDStream failed (out of memory)")) }
            // Windows up to 2 GiB (zstd --long=31), not more: a hostile frame cannot ask for more memory.
            ZSTD_DCtx_setParameter(created, ZSTD_d_windowLogMax, 31)
            zstdStream = created
            context = created
        }
        var source = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        try output.withUnsafeMutableBytes { out in
            while true {
                var target = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let rc = ZSTD_decompressStream(context, &target, &source)
                if ZSTD_isError(rc) != 0 {
                    throw fail(.zstd(String(cString: ZSTD_getErrorName(rc))))
                }
                zstdOwed = rc
                if target.pos > 0 {
                    if let limit = maxDecompressedBytes, decodedByteCount + target.pos > limit {
                        throw fail(.tooLarge(limit: limit))
                    }
                    try emit(UnsafeRawBufferPointer(rebasing: out[0..<target.pos]), sink)
                }
                // Done with this chunk once all input is taken and the output buffer was not filled
                // (a full buffer may mean more output is waiting inside).
                if source.pos == source.size && target.pos < target.size { break }
            }
        }
    }
}
