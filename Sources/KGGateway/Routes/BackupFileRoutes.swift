import Foundation
import HTTPTypes
import Hummingbird
import KGDatabase
import KGFormat
import Logging
import NIOPosix

/// `GET /jobs/{id}/backup`: a backup job's file, by byte ranges (RFC 9110), for
/// the user who made the backup only (anyone else: 404, as if there were none).
/// It is how an interrupted `kg admin backup` continues (`--resume`, and its retries).
///
/// - The file stays in temp storage `backup_resume_window_s` after its last write
///   or read (``TempJanitor``); after that, 410.
/// - `ETag`: `"<job id>-<inode>"`. A backup file is written once (exclusive create,
///   never rewritten: a backup job is not retried) and only appended to while the
///   job runs, so a byte range of it never changes; another file under the job's
///   name (replaced outside kg) has another inode, hence another tag.
/// - `If-Match` that does not match: 412 (nothing sent). `If-Range` that does not
///   match: the whole file, 200 (RFC 9110 §13.1.5). Range past the end: 416 with
///   `Content-Range: bytes */LENGTH`.
/// - A job still running: a range answers with the bytes written so far
///   (`Content-Range: bytes N-M/*`, the length not yet known), after waiting up to
///   ``waitForBytes`` seconds for a byte past N; still none: 503 with `Retry-After: 1`.
///   The client asks again from M+1. Without `Range`: 200, streamed as the worker
///   writes it (as `POST /admin/backup` does).
struct BackupFileRoutes {
    let pool: PGPool
    let heartbeatTimeout: Double
    let resumeWindow: Double
    let audit: AuditTrail
    let logger: Logger
    var waitForBytes = 5.0
    /// Status events: the stream sees its job end as soon as the worker says so.
    var hub: StatusHub? = nil

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/jobs/:id/backup") { request, context -> Response in
            let user = try context.requireAdmin()
            let id = try context.parameters.require("id").lowercased()
            guard UUID(uuidString: id) != nil else { throw APIError.notFound("backup job \(id)") }
            return try await serve(request, context, user: user, jobID: id)
        }
    }

    private func state(_ id: String, owner: String) async throws -> (JobState, BackupJobParams) {
        let state = try await pool.run { db in try JobStore(db).state(jobID: id) }
        guard let state, state.type == "backup", state.username == owner,
            let params = try? JSONDecoder().decode(BackupJobParams.self, from: Data(state.params.utf8))
        else {
            throw APIError.notFound("backup job \(id)")
        }
        return (state, params)
    }

    private func serve(_ request: Request, _ context: GatewayRequestContext, user: AuthenticatedUser, jobID id: String) async throws -> Response {
        var (state, params) = try await self.state(id, owner: user.username)
        let range = request.headers[.range].flatMap(ByteRange.init(header:))
        let compression = BackupCompression(rawValue: params.compression) ?? .none
        var logger = self.logger
        logger[metadataKey: "job_id"] = "\(id)"

        // The file, once the worker has made it (a queued job has none yet).
        let waitUntil = Date().addingTimeInterval(waitForBytes)
        var file: (fd: Int32, size: Int, inode: UInt64)?
        while true {
            if state.status == "running", let age = state.heartbeatAge, age > heartbeatTimeout {
                let reason = "the worker running this backup stopped responding (no heartbeat for \(Int(age)) s); take a new backup"
                _ = try? await pool.run { db in try JobStore(db).fail(jobID: id, error: reason) }
                (state, params) = try await self.state(id, owner: user.username)
            }
            try Self.refuseEnded(state)
            if file == nil { file = await Self.open(params.tempFile) }
            if state.status == "completed" {
                guard file != nil else {
                    throw APIError(
                        .gone, "the backup file of job \(id) is no longer kept",
                        detail:
                            "finished backups are kept backup_resume_window_s (\(Int(resumeWindow)) s) after their last download; take a new backup")
                }
                break
            }
            // Running: enough once there is a byte past the range's start (or any byte, for a whole-file stream).
            if let f = file, range == nil || f.size > (range?.start ?? 0) { break }
            guard Date() < waitUntil else {
                if let f = file { await FileCalls.close(f.fd) }
                var error = APIError(
                    .serviceUnavailable, "the backup has no bytes past this range's start yet",
                    detail: "job \(id) is \(state.status); ask again")
                error.headers[.retryAfter] = "1"
                throw error
            }
            try await Task.sleep(for: .milliseconds(100))
            (state, params) = try await self.state(id, owner: user.username)
            if let f = file, let size = await FileCalls.size(f.fd) { file = (f.fd, size, f.inode) }
        }
        guard let found = file else { throw APIError.notFound("backup job \(id)") }
        let (fd, size, inode) = (found.fd, found.size, found.inode)
        let etag = "\"\(id)-\(String(inode, radix: 16))\""
        var headers: HTTPFields = [
            .contentType: compression.contentType,
            .contentDisposition: ContentDisposition.attachment(filename: params.fileName),
            .eTag: etag,
            .acceptRanges: "bytes",
            HTTPField.Name("X-Job-Id")!: id,
            .cacheControl: "no-store",
        ]
        do {
            if let match = request.headers[.ifMatch], !Self.matches(match, etag) {
                throw APIError(
                    .preconditionFailed, "the backup file of job \(id) is not the one this download started with",
                    detail: "its ETag is now \(etag); the partial file cannot be continued: take a new backup")
            }
            // If-Range with another tag (or a date: this resource has no Last-Modified): the whole file.
            let useRange = range != nil && (request.headers[.ifRange].map { $0.trimmingCharacters(in: .whitespaces) == etag } ?? true)
            // Reading it is activity: the window counts from now.
            await FileCalls.touch(fd)
            let complete = state.status == "completed"
            let length: Int? = complete ? try Self.expectedLength(state, size: size, id: id) : nil

            if let range, useRange {
                let span: Range<Int>
                if let length {
                    guard let s = range.span(length: length) else {
                        var error = APIError(
                            .rangeNotSatisfiable, "the range \(request.headers[.range] ?? "") is past the end of the backup",
                            detail: "the file of job \(id) has \(length) bytes")
                        error.headers[.contentRange] = "bytes */\(length)"
                        error.headers[.eTag] = etag
                        throw error
                    }
                    span = s
                    headers[.contentRange] = "bytes \(s.lowerBound)-\(s.upperBound - 1)/\(length)"
                } else {
                    guard let start = range.start else {
                        // The last S bytes of a file still growing: not known yet.
                        var error = APIError(
                            .serviceUnavailable, "the backup is still being written; a suffix range cannot be served yet",
                            detail: "ask for bytes=N- instead")
                        error.headers[.retryAfter] = "1"
                        throw error
                    }
                    span = start..<min(size, (range.span(length: Int.max)?.upperBound ?? size))
                    headers[.contentRange] = "bytes \(span.lowerBound)-\(span.upperBound - 1)/*"
                }
                await audit.record(
                    context, actor: user.username, action: "backup_download", target: id, outcome: AuditLog.Outcome.accepted,
                    detail: span.lowerBound > 0 ? "resumed from offset \(span.lowerBound), \(span.count) bytes" : "bytes 0-\(span.upperBound - 1)")
                let streamer = FileRangeStreamer(fd: fd, span: span, jobID: id, logger: logger, eventLoop: context.channel.eventLoop)
                return Response(
                    status: .partialContent, headers: headers,
                    body: ResponseBody(contentLength: span.count) { writer in try await streamer.stream(to: &writer) })
            }
            await audit.record(
                context, actor: user.username, action: "backup_download", target: id, outcome: AuditLog.Outcome.accepted,
                detail: "whole file")
            if let length {
                let streamer = FileRangeStreamer(fd: fd, span: 0..<length, jobID: id, logger: logger, eventLoop: context.channel.eventLoop)
                return Response(
                    status: .ok, headers: headers, body: ResponseBody(contentLength: length) { writer in try await streamer.stream(to: &writer) })
            }
            // Still running and no range: stream it as the worker writes it.
            await FileCalls.close(fd)
            let streamer = BackupStreamer(
                jobID: id, path: params.tempFile, pool: pool, heartbeatTimeout: heartbeatTimeout,
                logger: logger, eventLoop: context.channel.eventLoop, keepsFile: true, hub: hub)
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in try await streamer.stream(to: &writer) })
        } catch {
            await FileCalls.close(fd)
            throw error
        }
    }

    /// A job that failed or was cancelled has no file to serve: 410, with its reason.
    private static func refuseEnded(_ state: JobState) throws {
        guard state.status == "failed" || state.status == "cancelled" else { return }
        throw APIError(
            .gone, "backup job \(state.jobID) \(state.status): \(state.error ?? "no reason given")",
            detail: "nothing more of this backup can be downloaded; take a new backup")
    }

    /// The size the worker recorded; a file of another size was changed outside kg.
    private static func expectedLength(_ state: JobState, size: Int, id: String) throws -> Int {
        let result = state.result.flatMap { try? JSONDecoder().decode(BackupJobResult.self, from: Data($0.utf8)) }
        guard let result, result.bytes == size else {
            throw APIError(
                .gone, "the backup file of job \(id) is not the one its worker wrote (\(size) bytes, not \(result?.bytes ?? -1))",
                detail: "take a new backup")
        }
        return size
    }

    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { tag in
            let tag = tag.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag
        }
    }

    /// Opens the file read-only: descriptor, size and inode; nil when it is not there.
    private static func open(_ path: String) async -> (fd: Int32, size: Int, inode: UInt64)? {
        try? await NIOThreadPool.singleton.runIfActive { () -> (fd: Int32, size: Int, inode: UInt64)? in
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                _ = Glibc.close(fd)
                return nil
            }
            return (fd, Int(info.st_size), UInt64(info.st_ino))
        }
    }
}
