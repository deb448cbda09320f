import Foundation
import KGClient
import KGFormat

/// The local integrity check of a restore, made on the upload's own read of the file instead
/// of a pass of its own before it (one read, not two; the check and the gateway's work on two
/// cores at once). The file's last bytes are held back until the whole check has passed: an
/// invalid file never reaches the gateway whole, so the gateway never queues a restore of it,
/// and the upload is abandoned (``Refused``).
///
/// Used when nothing must be known before the upload starts (`--yes` or `--dry-run`, a plain,
/// gzip or zstd file whose metadata comes before its data, not `--resume`): a confirmation
/// shows the check's findings first, so it keeps the check before the upload.
///
/// ```swift
/// let along = UploadCheckAlong(path: path, size: bytes)
/// upload.source = { offset in try along.source(from: offset) }
/// let accepted = try upload.run()   // throws UploadCheckAlong.Refused for an invalid file
/// along.report                      // the whole file's report
/// ```
final class UploadCheckAlong {
    let path: String
    let size: Int64
    private let checker = CLIConfig.makeChecker()
    /// Bytes the check has seen: a retry re-reads from the gateway's offset, and only what
    /// lies past this goes to the check again.
    private(set) var checked: Int64 = 0
    /// The whole file's report, once the last byte was read.
    private(set) var report: IntegrityReport?

    /// The check found the file invalid; its last bytes were not sent.
    struct Refused: Error {
        let report: IntegrityReport
    }

    init(path: String, size: Int64) {
        self.path = path
        self.size = size
    }

    /// The file from `offset` as an upload source whose bytes the check sees first.
    func source(from offset: Int64) throws -> UploadSource {
        let cursor: FileCursor
        do { cursor = try FileCursor(path: path, offset: offset) } catch { throw CLIError(error.message) }
        var position = offset
        return UploadSource(size: size - offset) { [self] buffer in
            let n = try cursor.read(into: buffer)
            let end = position + Int64(n)
            if end > checked {
                let skip = Int(max(0, checked - position))
                checker.feed(UnsafeRawBufferPointer(rebasing: buffer[skip..<n]))
                checked = end
            }
            position = end
            if end >= size && report == nil {
                // The last bytes wait for the verdict on the whole file.
                let whole = checker.finish()
                report = whole
                guard whole.valid else { throw Refused(report: whole) }
            }
            if let report, !report.valid { throw Refused(report: report) }
            return n
        }
    }
}
