#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The blocking read and write loops every module shares: interrupted calls
/// (`EINTR`) are retried, short writes continued, and a failure is the call's `errno`.
///
/// ```swift
/// try FileDescriptorIO.writeAll(fd: fd, bytes)              // write(2) until every byte is written
/// try FileDescriptorIO.writeAll(fd: fd, bytes, at: offset)  // pwrite(2) at offset
/// try FileDescriptorIO.readChunks(fd: fd) { chunk in … }     // read(2) to the end, 1 MiB at a time
/// ```
public enum FileDescriptorIO {
    /// The chunk size of the readers: large enough to keep system calls rare,
    /// small enough to keep memory flat.
    public static let chunkSize = 1 << 20

    /// Writes every byte of `bytes` (at `offset` with `pwrite(2)`, else at the descriptor's position).
    public static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int? = nil) throws(SystemCallError) {
        var done = 0
        while done < bytes.count {
            let n: Int
            if let offset {
                n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            } else {
                n = write(fd, bytes.baseAddress! + done, bytes.count - done)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .current
            }
            done += n
        }
    }

    /// Writes every byte of `bytes`.
    public static func writeAll(fd: Int32, _ bytes: [UInt8], at offset: Int? = nil) throws(SystemCallError) {
        let result: Result<Void, SystemCallError> = bytes.withUnsafeBytes { raw in
            do throws(SystemCallError) {
                try writeAll(fd: fd, raw, at: offset)
                return .success(())
            } catch { return .failure(error) }
        }
        try result.get()
    }

    /// One `read(2)` (`pread(2)` at `offset`) into `buffer`, retried while interrupted:
    /// the bytes read, 0 at the end of the file.
    public static func read(fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int? = nil) throws(SystemCallError) -> Int {
        while true {
            let n: Int
            if let offset {
                n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            } else {
                n = systemRead(fd, buffer.baseAddress, buffer.count)
            }
            if n >= 0 { return n }
            if errno != EINTR { throw .current }
        }
    }

    /// Reads from `offset` (`pread(2)`; nil: the descriptor's position) to the end of the file,
    /// or `limit` bytes if fewer, handing `body` each chunk of at most `chunkSize` bytes; returns
    /// the bytes read (fewer than `limit` when the file ended first). A failing read throws
    /// ``SystemCallError``; what `body` throws passes through.
    @discardableResult
    public static func readChunks(
        fd: Int32, at offset: Int? = nil, limit: Int? = nil, chunkSize: Int = FileDescriptorIO.chunkSize,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, chunkSize), alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while limit.map({ total < $0 }) ?? true {
            let wanted = min(buffer.count, limit.map { $0 - total } ?? buffer.count)
            let n = try read(fd: fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<wanted]), at: offset.map { $0 + total })
            if n == 0 { break }
            total += n
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return total
    }
}

/// `read(2)`, under a name ``FileDescriptorIO/read(fd:into:at:)`` does not hide.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}
