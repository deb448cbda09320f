import CZlib

/// Streaming gzip compression (deflate with a gzip header and trailer).
///
/// ```swift
/// let gzip = try GzipCompressor(level: 6)
/// var file = gzip.compress(Array("{\"version\":\"1.0\"}".utf8))
/// file += gzip.finish()
/// ```
///
/// Not thread-safe: use one compressor per stream.
public final class GzipCompressor: StreamCompressor {
    private let stream = ZStream()
    private var output = [UInt8](repeating: 0, count: 64 * 1024)
    private var finished = false

    /// - Parameter level: 0 (store) … 9 (smallest); 6 is zlib's default balance.
    public init(level: Int32 = 6) throws {
        // windowBits 31 = 15 (32 KiB window) + 16 (gzip wrapper instead of zlib).
        let rc = kg_deflateInit2(stream.pointer, max(0, min(9, level)), 31, 8)
        guard rc == Z_OK else {
            throw CompressionError(.zlib(code: rc, message: "deflateInit2 failed"))
        }
    }

    deinit {
        deflateEnd(stream.pointer)
    }

    /// Compresses `chunk` and returns whatever compressed bytes are ready
    /// (often none: deflate buffers until it has a block's worth).
    public func compress(_ chunk: some Collection<UInt8>) -> [UInt8] {
        var result: [UInt8] = []
        let done: Void? = chunk.withContiguousStorageIfAvailable { buffer in
            run(UnsafeRawBufferPointer(buffer), flush: Z_NO_FLUSH, into: &result)
        }
        if done == nil {
            let copy = Array(chunk)
            copy.withUnsafeBytes { run($0, flush: Z_NO_FLUSH, into: &result) }
        }
        return result
    }

    /// Compresses raw bytes, handing each piece of output to `sink`.
    public func compress(_ chunk: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try run(chunk, flush: Z_NO_FLUSH, sink: sink)
    }

    /// Ends the stream, handing the rest of the output (gzip trailer included) to `sink`.
    public func finish(into sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        guard !finished else { return }
        finished = true
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, sink: sink)
    }

    /// Ends the stream and returns the rest of the output, gzip trailer included.
    /// Calling it again returns nothing.
    public func finish() -> [UInt8] {
        guard !finished else { return [] }
        finished = true
        var result: [UInt8] = []
        run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, into: &result)
        return result
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, into result: inout [UInt8]) {
        run(input, flush: flush) { result.append(contentsOf: $0) }
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        precondition(!finished || flush == Z_FINISH, "GzipCompressor used after finish()")
        let z = stream.pointer
        z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = uInt(input.count)
        try output.withUnsafeMutableBytes { out in
            let outBase = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
            while true {
                z.pointee.next_out = outBase
                z.pointee.avail_out = uInt(out.count)
                let rc = deflate(z, flush)
                let produced = out.count - Int(z.pointee.avail_out)
                if produced > 0 { try sink(UnsafeRawBufferPointer(rebasing: out[0..<produced])) }
                // Z_BUF_ERROR only means "no progress possible", i.e. all input consumed.
                precondition(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, "deflate failed: \(rc)")
                if flush == Z_FINISH {
                    if rc == Z_STREAM_END { break }
                } else if z.pointee.avail_in == 0 && z.pointee.avail_out != 0 {
                    break
                }
            }
        }
        z.pointee.next_in = nil
    }
}
