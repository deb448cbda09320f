#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks a backup file on disk: the one place in KGFormat that reads files.
///
/// ```swift
/// let report = BackupFileChecker.check(path: "backups/full_backup_20240501_100000.json.gz")
/// ```
///
/// A file that is missing, unreadable or a directory yields a report with a
/// `format` error saying which; nothing is thrown.
public enum BackupFileChecker {
    /// The size of each read; large enough to keep system calls rare, small
    /// enough to keep memory flat.
    public static let chunkSize = 1 << 20

    /// Reads the file at `path` in 1 MiB chunks through an ``IntegrityChecker``
    /// (its id checks spill past `idMemoryBytes` to a temp file in `tempDirectory`,
    /// default `TMPDIR` or `/tmp`: see ``IDLedger``). `progress` is told the bytes
    /// read so far (of the file as stored), after each chunk;
    /// `observe` sees each chunk of the file as stored (a digest of the same pass).
    public static func check(path: String, maxDecompressedBytes: Int? = nil,
                             limits: BackupReaderLimits = BackupReaderLimits(),
                             idMemoryBytes: Int = IntegrityChecker.defaultIDMemoryBytes,
                             tempDirectory: String? = nil, progress: ((Int64) -> Void)? = nil,
                             observe: ((UnsafeRawBufferPointer) -> Void)? = nil) -> IntegrityReport
    {
        let checker = IntegrityChecker(limits: limits, maxDecompressedBytes: maxDecompressedBytes, idMemoryBytes: idMemoryBytes,
                                       tempDirectory: tempDirectory)
        var done: Int64 = 0
        if let problem = read(path, into: { bytes in
            observe?(bytes)
            checker.feed(bytes)
            done += Int64(bytes.count)
            progress?(done)
        }) {
            checker.observeFailure(problem)
            return checker.makeReport()
        }
        return checker.finish()
    }

    /// Feeds the file's bytes to `body` in chunks; returns why it could not be read, if so.
    private static func read(_ path: String, into body: (UnsafeRawBufferPointer) -> Void) -> FileProblem? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            let reason: String
            switch code {
            case ENOENT: reason = "no such file: \(path)"
            case EACCES: reason = "cannot read \(path): permission denied"
            case ENOTDIR: reason = "no such file: \(path) (a part of the path is not a directory)"
            default: reason = "cannot open \(path): \(String(cString: strerror(code)))"
            }
            return FileProblem(message: reason)
        }
        defer { close(fd) }

        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            return FileProblem(message: "\(path) is a directory, not a backup file")
        }

        var buffer = [UInt8](repeating: 0, count: chunkSize)
        while true {
            let n = buffer.withUnsafeMutableBytes { readChunk(fd, $0) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                return FileProblem(message:
                    code == EISDIR ? "\(path) is a directory, not a backup file"
                                   : "cannot read \(path): \(String(cString: strerror(code)))")
            }
            if n == 0 { return nil }
            buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
    }

    /// Why a file could not be read, worded for the report.
    struct FileProblem: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}

/// `read(2)`, under a name the checker's own `read` does not hide.
private func readChunk(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) -> Int {
    read(fd, buffer.baseAddress, buffer.count)
}
