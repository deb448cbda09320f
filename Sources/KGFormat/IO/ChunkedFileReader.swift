#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a whole file in chunks of one reused buffer: flat memory whatever its size.
///
/// ```swift
/// let bytes = try ChunkedFileReader.read(path: path) { chunk in digest.update(chunk) }
/// ```
public enum ChunkedFileReader {
    /// Opens `path` read-only, refuses a directory, and hands `body` each chunk of at most
    /// `chunkSize` bytes to the end of the file; returns the bytes read. Failing system calls
    /// throw ``FileReadError``; what `body` throws passes through unchanged.
    @discardableResult
    public static func read(
        path: String, chunkSize: Int = FileDescriptorIO.chunkSize,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> Int {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(path: path, step: .open, error: .current) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            throw FileReadError(path: path, step: .directory, error: SystemCallError(code: EISDIR))
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, chunkSize), alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let n: Int
            do { n = try FileDescriptorIO.read(fd: fd, into: buffer) } catch { throw FileReadError(path: path, step: .read, error: error) }
            if n == 0 { return total }
            total += n
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}
