import Foundation
import Hummingbird
import KGFormat
import Logging
import Metrics
import NIOCore
import NIOPosix

/// Receives a multipart upload as it arrives: the file part is written to temp
/// storage (when `path` is set) and fed to the integrity checker on the same
/// pass, so the verdict is ready the moment the upload ends. Memory stays flat:
/// at most one coalesced write buffer is held. On any failure — a client that
/// disconnects halfway, a size limit, a malformed form — the file is removed.
///
/// The file is written as `<path>.partial` and stays so when complete: the caller
/// renames it (``publish(_:)``) once the job row that owns `<path>` exists, so the
/// janitor always has an owner to ask about — the row for `restore_<job>`, the
/// file's mtime for a `.partial`. The receiver refreshes that mtime at least every
/// `leaseInterval` seconds while bytes arrive (a slow upload fills the write
/// buffer slowly), so the janitor removes a `.partial` only once its gateway has
/// stopped feeding it for `upload_idle_timeout_s` (the gateway died).
struct UploadReceiver {
    let boundary: [UInt8]
    let path: String?
    let maxBytes: Int
    let maxDecompressedBytes: Int
    /// Memory of the check's id facts, and where they spill past it (see `IntegrityChecker`).
    var idCheckMemoryBytes = IntegrityChecker.defaultIDMemoryBytes
    var tempDirectory: String? = nil
    /// Counts the request body bytes as they arrive (`kg_bytes_streamed_total`).
    var bytesReceived: Metrics.Counter? = nil
    /// Seconds between refreshes of the `.partial`'s mtime while an upload arrives:
    /// well inside `upload_idle_timeout_s` (``leaseInterval(idleTimeout:)``).
    var leaseInterval = 10.0

    struct Received {
        let report: IntegrityReport
        let fields: [String: String]
        let fileName: String?
        let fileBytes: Int
    }

    static let flushAt = 1 << 20
    /// A quarter of the janitor's `upload_idle_timeout_s`, at most 10 s.
    static func leaseInterval(idleTimeout: Double) -> Double { max(0.5, min(10, idleTimeout / 4)) }

    /// Renames the complete `.partial` to `path` (after the job row exists).
    static func publish(_ path: String) throws {
        guard rename(path + ".partial", path) == 0 else {
            throw APIError(.internalServerError, "cannot store the upload", detail: String(cString: strerror(errno)))
        }
    }

    func receive(_ body: RequestBody) async throws -> Received {
        var fd: Int32 = -1
        let partial = path.map { $0 + ".partial" }
        if let partial {
            fd = open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else {
                throw APIError(.internalServerError, "cannot store the upload", detail: String(cString: strerror(errno)))
            }
        }
        var completed = false
        defer {
            if fd >= 0 { close(fd) }
            if !completed, let partial { unlink(partial) }  // when complete, the caller owns it
        }
        let checker = IntegrityChecker(maxDecompressedBytes: maxDecompressedBytes, idMemoryBytes: idCheckMemoryBytes,
                                       tempDirectory: tempDirectory)
        var upload = MultipartUpload(boundary: boundary)
        var pending: [UInt8] = []
        pending.reserveCapacity(Self.flushAt + 64 * 1024)
        var received = 0
        let descriptor = fd
        var leaseRenewed = Date()

        func flush() async throws {
            guard descriptor >= 0, !pending.isEmpty else {
                pending.removeAll(keepingCapacity: true)
                return
            }
            let bytes = pending
            pending.removeAll(keepingCapacity: true)
            try await NIOThreadPool.singleton.runIfActive {
                var offset = 0
                while offset < bytes.count {
                    let n = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw APIError(.init(code: 507), "temp storage cannot take the upload",
                                       detail: String(cString: strerror(errno)))
                    }
                    offset += n
                }
            }
        }

        do {
            for try await buffer in body {
                received += buffer.readableBytes
                bytesReceived?.increment(by: Int64(buffer.readableBytes))
                if received > maxBytes {
                    throw APIError(.contentTooLarge, "the upload is larger than this gateway accepts",
                                   detail: "at most \(maxBytes) bytes (max_upload_bytes)")
                }
                try buffer.withUnsafeReadableBytes { chunk in
                    try upload.feed(chunk) { fileData in
                        checker.feed(fileData)
                        if descriptor >= 0 { pending.append(contentsOf: fileData) }
                    }
                }
                if pending.count >= Self.flushAt {
                    try await flush()
                    leaseRenewed = Date()
                } else if descriptor >= 0, Date().timeIntervalSince(leaseRenewed) >= leaseInterval {
                    leaseRenewed = Date()
                    try await NIOThreadPool.singleton.runIfActive { _ = futimens(descriptor, nil) }
                }
                // Inflating and checking is CPU work on this task: let other requests
                // (health checks, downloads) run between chunks, even under a gzip bomb.
                await Task.yield()
            }
            let summary = try upload.finish()
            try await flush()
            let report = checker.finish()
            completed = true
            return Received(report: report, fields: summary.fields, fileName: summary.fileName, fileBytes: summary.fileBytes)
        } catch let error as MultipartError {
            throw APIError.badRequest("malformed upload", detail: error.description)
        }
    }
}
