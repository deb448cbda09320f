/// Checks a backup file on disk.
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
    public static let chunkSize = FileDescriptorIO.chunkSize

    /// Reads the file at `path` (``ChunkedFileReader``) in 1 MiB chunks through an ``IntegrityChecker``
    /// (its id checks spill past `idMemoryBytes` to a temp file in `tempDirectory`,
    /// default `TMPDIR` or `/tmp`: see ``IDLedger``). `progress` is told the bytes
    /// read so far (of the file as stored), after each chunk;
    /// `observe` sees each chunk of the file as stored (a digest of the same pass).
    public static func check(
        path: String, maxDecompressedBytes: Int? = nil,
        limits: BackupReaderLimits = BackupReaderLimits(),
        idMemoryBytes: Int = IntegrityChecker.defaultIDMemoryBytes,
        tempDirectory: String? = nil, progress: ((Int64) -> Void)? = nil,
        observe: ((UnsafeRawBufferPointer) -> Void)? = nil
    ) -> IntegrityReport {
        let checker = IntegrityChecker(
            limits: limits, maxDecompressedBytes: maxDecompressedBytes, idMemoryBytes: idMemoryBytes,
            tempDirectory: tempDirectory)
        var done: Int64 = 0
        do {
            try ChunkedFileReader.read(path: path, chunkSize: chunkSize) { bytes in
                observe?(bytes)
                checker.feed(bytes)
                done += Int64(bytes.count)
                progress?(done)
            }
        } catch {
            checker.observeFailure(error)
            return checker.makeReport()
        }
        return checker.finish()
    }
}
