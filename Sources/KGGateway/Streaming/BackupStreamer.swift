import Foundation
import Hummingbird
import KGDatabase
import KGFormat
import Logging
import Metrics
import NIOCore
import NIOPosix

/// Streams a backup file to the client *while the worker writes it*: it tails
/// the temp file and ends only when the job row says the backup is complete
/// and every byte has been sent. When the worker fails, the stream is aborted
/// (the connection closes without the final chunk), so the client can never
/// take a truncated file for a complete one.
///
/// With `keepsFile` (`backup_resume_window_s` > 0) the file outlives the stream:
/// a client that goes away does not cancel the job, which runs to its end, and the
/// file stays for `GET /jobs/{id}/backup` (``BackupFileRoutes``) until the janitor
/// sweeps it. Without, the file is removed after the stream and a client that goes
/// away cancels the job.
struct BackupStreamer: Sendable {
    let jobID: String
    let path: String
    let pool: PGPool
    let heartbeatTimeout: Double
    let logger: Logger
    /// The connection's event loop: writes are paced by it (``PacedBodyWriter``).
    let eventLoop: any EventLoop
    var keepsFile = false
    /// The gateway's status events: the job's end is seen when its event arrives (``JobEndWatch``),
    /// not only at the next poll of the job row.
    var hub: StatusHub? = nil
    private let bytesSent = GatewayMetrics.bytesOut(.backup)

    static let chunkSize = 256 * 1024

    struct Aborted: Error, CustomStringConvertible {
        let description: String
    }

    func stream(to writer: inout any ResponseBodyWriter) async throws {
        writer = PacedBodyWriter(writer, eventLoop: eventLoop)
        let fd = Descriptor()
        do {
            try await stream(to: &writer, fd: fd)
        } catch {
            await FileCalls.close(fd.value)
            if !keepsFile { await FileCalls.unlink(path) }
            throw error
        }
        await FileCalls.close(fd.value)
        if !keepsFile { await FileCalls.unlink(path) }
    }

    /// The file's descriptor once it exists (-1 before), closed by ``stream(to:)``.
    private final class Descriptor: @unchecked Sendable {
        var value: Int32 = -1
    }

    private func stream(to writer: inout any ResponseBodyWriter, fd file: Descriptor) async throws {
        var fd: Int32 = -1
        var offset = 0
        var expected: Int?
        var lastCheck = Date.distantPast
        var lastTouch = Date()
        var clientGone = false
        let watch = hub.map { JobEndWatch(hub: $0, jobID: jobID) }
        defer { watch?.stop() }
        do {
            while true {
                if fd < 0 {
                    fd = try await FileCalls.open(path, O_RDONLY | O_CLOEXEC).fd
                    file.value = fd
                }
                var sent = false
                if fd >= 0 {
                    if let chunk = try await FileCalls.readChunk(fd, at: offset, upTo: Self.chunkSize) {
                        offset += chunk.readableBytes
                        do {
                            try await writer.write(chunk)
                        } catch {
                            clientGone = true
                            throw error
                        }
                        bytesSent.increment(by: Int64(chunk.readableBytes))
                        sent = true
                    }
                }
                // Keep the file's mtime fresh while someone reads it: the janitor
                // removes backup files nobody has touched for a while.
                if fd >= 0, Date().timeIntervalSince(lastTouch) > 10 {
                    lastTouch = Date()
                    await FileCalls.touch(fd)
                }
                if let expected, offset >= expected {
                    try await writer.finish(nil)
                    logger.info("backup streamed", metadata: ["job_id": "\(jobID)", "bytes": "\(offset)"])
                    return
                }
                if sent { continue }
                // At the end of what is written so far: is the job done, failed or stalled?
                if Date().timeIntervalSince(lastCheck) >= 0.25 || expected == nil && fd < 0 || watch?.takeEnded() == true {
                    lastCheck = Date()
                    if let state = try await currentState() {
                        switch state.status {
                        case "completed":
                            let result = state.result.flatMap { try? JSONDecoder().decode(BackupJobResult.self, from: Data($0.utf8)) }
                            guard let result else { throw Aborted(description: "the completed job has no result") }
                            expected = result.bytes
                            continue
                        case "failed", "cancelled":
                            throw Aborted(description: "backup \(state.status): \(state.error ?? "no reason given")")
                        case "running":
                            if let age = state.heartbeatAge, age > heartbeatTimeout {
                                let reason = "the worker running this backup stopped responding (no heartbeat for \(Int(age)) s); take a new backup"
                                _ = try? await pool.run { db in try JobStore(db).fail(jobID: jobID, error: reason) }
                                throw Aborted(description: reason)
                            }
                        default:
                            break
                        }
                    }
                }
                try await Task.sleep(for: .milliseconds(15))
            }
        } catch {
            if clientGone, keepsFile {
                logger.notice(
                    "client went away during a backup download; the job goes on and its file is kept for a resumed download",
                    metadata: ["job_id": "\(jobID)", "bytes_sent": "\(offset)"])
            } else if clientGone {
                logger.notice("client went away during a backup download; cancelling the job", metadata: ["job_id": "\(jobID)"])
                _ = try? await pool.run { db in try JobStore(db).cancel(jobID: jobID, reason: "the client disconnected during the download") }
            } else {
                logger.error("backup stream aborted: \(error)", metadata: ["job_id": "\(jobID)"])
            }
            throw error
        }
    }

    private func currentState() async throws -> JobState? {
        let id = jobID
        return try await pool.run { db in try JobStore(db).state(jobID: id) }
    }
}
