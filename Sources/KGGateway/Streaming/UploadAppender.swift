import Foundation
import Hummingbird
import KGFormat
import Metrics
import NIOCore
import NIOPosix

/// Appends one PATCH body to a resumable upload's data file and feeds the same bytes to the
/// upload's check, a chunk at a time on `workPool` (never on the cooperative pool). Every byte
/// that arrived is written, also when the client goes away mid-body: the data file then holds
/// exactly the bytes the check has seen, and the next request continues from its length.
struct UploadAppender {
    /// The data file, opened for appending and locked by the caller.
    let fd: Int32
    let state: UploadCheckState
    /// The declared size of the whole upload: bytes past it are refused (413).
    let declaredSize: Int
    var bytesReceived: Metrics.Counter? = nil

    /// Bytes held between writes: what a gateway that dies mid-request loses at most (the client
    /// sends them again from the offset the file shows).
    static let flushAt = 256 * 1024

    /// What one request appended; `consistent` is false when a write failed (the check must be rebuilt).
    struct Outcome {
        var appended = 0
        var consistent = true
        var error: Error?
    }

    /// `afterChunk`, when given, runs after each chunk was checked (and before the next is read);
    /// it returns false once it needs no more calls. Its writes wait for the next flush, as any
    /// chunk's: it may flush them first (`flush`).
    func receive(
        _ body: RequestBody, on workPool: NIOThreadPool,
        afterChunk: ((_ flush: @Sendable () async throws -> Void) async -> Bool)? = nil
    ) async -> Outcome {
        let buffer = Pending(fd: fd, state: state)
        var outcome = Outcome()
        var watching = afterChunk != nil
        do {
            for try await chunk in body {
                bytesReceived?.increment(by: Int64(chunk.readableBytes))
                if state.bytes + chunk.readableBytes > declaredSize {
                    throw APIError(
                        .contentTooLarge, "more bytes than the upload declared",
                        detail: "the upload was created for \(declaredSize) bytes; byte \(declaredSize + 1) arrived")
                }
                outcome.appended += chunk.readableBytes
                try await workPool.runIfActive { try buffer.consume(chunk) }
                if watching, let afterChunk {
                    watching = await afterChunk { try await workPool.runIfActive { try buffer.flush() } }
                }
            }
        } catch {
            outcome.error = error
        }
        do {
            try await workPool.runIfActive { try buffer.flush() }
        } catch {
            outcome.error = outcome.error ?? error
        }
        // A failed write leaves the file short of what the check has seen.
        outcome.consistent = !buffer.writeFailed
        return outcome
    }

    /// Feeds a check the first `bytes` bytes of the data file (a session continued on a gateway that
    /// has not seen its earlier bytes). Blocking: runs on `workPool`.
    static func rebuild(_ state: UploadCheckState, dataPath: String, bytes: Int, on workPool: NIOThreadPool) async throws {
        try await workPool.runIfActive {
            let fd = open(dataPath, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw APIError(.internalServerError, "cannot read the stored upload", detail: String(cString: strerror(errno)))
            }
            defer { close(fd) }
            // A failing read and an early end say the same: where the stored bytes stopped.
            _ = try? FileDescriptorIO.readChunks(fd: fd, limit: max(0, bytes - state.bytes)) { chunk in
                state.feed(chunk)
            }
            guard state.bytes >= bytes else {
                throw APIError(.internalServerError, "cannot read the stored upload", detail: "it ended at byte \(state.bytes)")
            }
        }
    }

    /// The bytes between two writes; used by one work item at a time.
    private final class Pending: @unchecked Sendable {
        let fd: Int32
        let state: UploadCheckState
        var bytes: [UInt8] = []
        /// A write failed: the file holds fewer bytes than the check has seen.
        var writeFailed = false

        init(fd: Int32, state: UploadCheckState) {
            self.fd = fd
            self.state = state
            bytes.reserveCapacity(UploadAppender.flushAt + 64 * 1024)
        }

        func consume(_ chunk: ByteBuffer) throws {
            chunk.withUnsafeReadableBytes { raw in
                state.feed(raw)
                bytes.append(contentsOf: raw)
            }
            if bytes.count >= UploadAppender.flushAt { try flush() }
        }

        func flush() throws {
            defer { bytes.removeAll(keepingCapacity: true) }
            do {
                try FileDescriptorIO.writeAll(fd: fd, bytes)
            } catch {
                writeFailed = true
                throw APIError(.init(code: 507), "temp storage cannot take the upload", detail: error.reason)
            }
        }
    }
}
