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

    /// Renames the complete `.partial` to `path` (after the job row exists), on NIO's thread pool.
    static func publish(_ path: String) async throws {
        do {
            try await FileCalls.rename(path + ".partial", path)
        } catch {
            throw APIError(.internalServerError, "cannot store the upload", detail: "\(error)")
        }
    }

    /// Receives the body. The multipart parsing, the integrity check and the writes run on
    /// `workPool` (a chunk at a time, in order), never on the cooperative pool: the check is
    /// CPU-bound (a small gzip can inflate to gigabytes of ids) and the writes may block.
    func receive(_ body: RequestBody, on workPool: NIOThreadPool) async throws -> Received {
        var fd: Int32 = -1
        let partial = path.map { $0 + ".partial" }
        if let partial {
            let opened = try await FileCalls.open(partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard opened.fd >= 0 else {
                throw APIError(.internalServerError, "cannot store the upload", detail: opened.error)
            }
            fd = opened.fd
        }
        let state = State(
            boundary: boundary, fd: fd,
            checker: IntegrityChecker(
                maxDecompressedBytes: maxDecompressedBytes, idMemoryBytes: idCheckMemoryBytes,
                tempDirectory: tempDirectory, checksDamageOnRefusal: false))
        do {
            let received = try await receive(body, state: state, on: workPool)
            await FileCalls.close(fd)
            return received  // when complete, the caller owns the `.partial`
        } catch {
            await FileCalls.close(fd)
            if let partial { await FileCalls.unlink(partial) }
            if let error = error as? MultipartError {
                throw APIError.badRequest("malformed upload", detail: error.description)
            }
            throw error
        }
    }

    private func receive(_ body: RequestBody, state: State, on workPool: NIOThreadPool) async throws -> Received {
        var received = 0
        var leaseRenewed = Date()
        for try await buffer in body {
            received += buffer.readableBytes
            bytesReceived?.increment(by: Int64(buffer.readableBytes))
            if received > maxBytes {
                throw APIError.tooLarge("the upload", max: maxBytes, setting: "max_upload_bytes")
            }
            let wrote = try await workPool.runIfActive { try state.consume(buffer) }
            if wrote {
                leaseRenewed = Date()
            } else if state.fd >= 0, Date().timeIntervalSince(leaseRenewed) >= leaseInterval {
                leaseRenewed = Date()
                await FileCalls.touch(state.fd)
            }
        }
        return try await workPool.runIfActive { try state.finish() }
    }

    /// What one upload holds while it arrives. Used by one work item at a time (each
    /// awaited before the next), so never concurrently.
    private final class State: @unchecked Sendable {
        let fd: Int32
        let checker: IntegrityChecker
        var upload: MultipartUpload
        var pending: [UInt8] = []

        init(boundary: [UInt8], fd: Int32, checker: IntegrityChecker) {
            self.fd = fd
            self.checker = checker
            self.upload = MultipartUpload(boundary: boundary)
            if fd >= 0 { pending.reserveCapacity(UploadReceiver.flushAt + 64 * 1024) }
        }

        /// Parses, checks and (past `flushAt`) writes one chunk; true when it wrote.
        func consume(_ buffer: ByteBuffer) throws -> Bool {
            let fd = self.fd
            try buffer.withUnsafeReadableBytes { chunk in
                try upload.feed(chunk) { fileData in
                    checker.feed(fileData)
                    if fd >= 0 { pending.append(contentsOf: fileData) }
                }
            }
            guard pending.count >= UploadReceiver.flushAt else { return false }
            try flush()
            return true
        }

        func finish() throws -> Received {
            let summary = try upload.finish()
            try flush()
            let report = checker.finish()
            return Received(report: report, fields: summary.fields, fileName: summary.fileName, fileBytes: summary.fileBytes)
        }

        private func flush() throws {
            defer { pending.removeAll(keepingCapacity: true) }
            guard fd >= 0, !pending.isEmpty else { return }
            do {
                try FileDescriptorIO.writeAll(fd: fd, pending)
            } catch {
                throw APIError(.init(code: 507), "temp storage cannot take the upload", detail: error.reason)
            }
        }
    }
}
