#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file read on demand from an offset: the pull-shaped sibling of ``ChunkedFileReader``,
/// for readers that are asked for bytes (libcurl's read callback of an upload). Closes the
/// file at its end or when released.
///
/// ```swift
/// let cursor = try FileCursor(path: path, offset: resumedAt)
/// let n = try cursor.read(into: buffer)  // 0 at the end
/// ```
public final class FileCursor {
    public let path: String
    private var fd: Int32

    /// Opens `path` read-only at byte `offset`; a directory is refused (``FileReadError``).
    public init(path: String, offset: Int64 = 0) throws(FileReadError) {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileReadError(path: path, step: .open, error: .current) }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            throw FileReadError(path: path, step: .directory, error: SystemCallError(code: EISDIR))
        }
        if offset > 0 && lseek(fd, off_t(offset), SEEK_SET) < 0 {
            let error = SystemCallError.current
            close(fd)
            throw FileReadError(path: path, step: .read, error: error)
        }
    }

    /// Fills `buffer` with the next bytes (retried on `EINTR`); 0 at the end of the file.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(FileReadError) -> Int {
        guard fd >= 0, buffer.count > 0 else { return 0 }
        let n: Int
        do { n = try FileDescriptorIO.read(fd: fd, into: buffer) } catch { throw FileReadError(path: path, step: .read, error: error) }
        if n == 0 { closeFile() }
        return n
    }

    private func closeFile() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { closeFile() }
}
