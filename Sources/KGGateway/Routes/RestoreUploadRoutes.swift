import Foundation
import HTTPTypes
import Hummingbird
import KGDatabase
import KGFormat
import KGService
import Logging
import NIOCore
import NIOPosix

/// Resumable restore uploads (issue 18), tus-like:
///
/// - `POST /admin/restore/uploads` with `{"size", "file_name", "mode", "dry_run", "external_deps",
///   "checkpoint", "keep_checkpoint", "no_wait"}`: the checks of `POST /admin/restore` that need no
///   file (role, size, the job limit, `no_wait`, the fields) → 201 `{"upload_id", "upload_url",
///   "offset": 0, "size", "window_s"}`;
/// - `PATCH /admin/restore/uploads/{id}` with `Upload-Offset: N` and the bytes from N: 409 with the
///   gateway's `Upload-Offset` when N is not what it holds; 204 with the new `Upload-Offset` while
///   bytes are missing; once the last byte is in, the integrity check's verdict and the job exactly
///   as `POST /admin/restore` answers them (202 and the job, or the refusal); the upload then ends
///   (its record is removed, the bytes are the job's);
/// - `HEAD` (the `Upload-Offset` and `Upload-Length` headers) or `GET` (JSON) `…/{id}`: how much the gateway holds;
/// - `DELETE …/{id}`: abandons the upload (after a PATCH still receiving has ended: 409 past 10 s).
///
/// A session belongs to the user who made it (another user gets 404). Its files live in the shared
/// temp folder (``UploadSession``), so any gateway continues it; it expires `restore_upload_window_s`
/// after its last byte (410 until the sweeper removes it, then 404).
struct RestoreUploadRoutes {
    let restore: RestoreRoutes
    let window: Double
    let checkers: UploadCheckers
    /// Restores that start while the upload arrives.
    let pipeline: RestorePipeline

    private var pool: PGPool { restore.pool }
    private var storage: TempStorage { restore.storage }
    var audit: AuditTrail { restore.audit }

    static let offsetHeader = HTTPField.Name("Upload-Offset")!
    static let lengthHeader = HTTPField.Name("Upload-Length")!

    func register(on router: Router<GatewayRequestContext>) {
        router.post("/admin/restore/uploads") { request, context -> Response in
            try await audit.refusals(context, action: "restore") { try await create(request, context) }
        }
        router.head("/admin/restore/uploads/:id") { _, context -> Response in
            let (session, offset) = try await status(context)
            return Response(status: .ok, headers: headers(session, offset: offset))
        }
        router.get("/admin/restore/uploads/:id") { _, context -> Response in
            let (session, offset) = try await status(context)
            var body = "{\"upload_id\":\(JSON.quoteOrNull(session.id)),\"offset\":\(offset),\"size\":\(session.size)"
            body += ",\"window_s\":\(Int(window))"
            var response = JSON.response(body + "}")
            response.headers.append(contentsOf: headers(session, offset: offset))
            return response
        }
        router.patch("/admin/restore/uploads/:id") { request, context -> Response in
            let id = context.parameters.get("id") ?? "-"
            return try await audit.refusals(context, action: "restore", target: id) { try await append(request, context) }
        }
        router.delete("/admin/restore/uploads/:id") { _, context -> Response in
            let user = try context.requireAdmin()
            let (session, paths) = try await find(context, user: user)
            // A PATCH still receiving (the client that gave up on it has not been noticed yet) holds the
            // data file's lock and saves the record when it ends: wait for it, or it would bring the record back.
            let opened = try await FileCalls.open(paths.data, O_WRONLY | O_CLOEXEC)
            if opened.fd >= 0 {
                defer { close(opened.fd) }
                guard await Self.lock(opened.fd, within: 10) else {
                    throw APIError(.conflict, "another request is still sending bytes to this upload", detail: "ask again when it ends")
                }
            }
            await checkers.drop(session.id)
            if let jobID = session.jobID { await pipeline.cancel(jobID, reason: "the upload was abandoned; nothing was changed") }
            await FileCalls.unlink(paths.data, paths.record)
            return Response(status: .noContent)
        }
    }

    // MARK: - Create

    struct CreateRequest: Decodable {
        var size: Int
        var fileName: String?
        var mode: String?
        var dryRun: Bool?
        var externalDeps: String?
        var checkpoint: Bool?
        var keepCheckpoint: Bool?
        var noWait: Bool?

        enum CodingKeys: String, CodingKey {
            case size
            case fileName = "file_name"
            case mode
            case dryRun = "dry_run"
            case externalDeps = "external_deps"
            case checkpoint
            case keepCheckpoint = "keep_checkpoint"
            case noWait = "no_wait"
        }

        /// The fields as the multipart route receives them.
        var fields: [String: String] {
            var fields: [String: String] = [:]
            fields["mode"] = mode
            fields["external_deps"] = externalDeps
            if let dryRun { fields["dry_run"] = dryRun ? "true" : "false" }
            if let checkpoint { fields["checkpoint"] = checkpoint ? "true" : "false" }
            if let keepCheckpoint { fields["keep_checkpoint"] = keepCheckpoint ? "true" : "false" }
            if let noWait { fields["no_wait"] = noWait ? "true" : "false" }
            return fields
        }
    }

    private func create(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireAdmin()
        let wanted = try await JSON.decode(CreateRequest.self, from: request, limit: 16 * 1024)
        guard wanted.size > 0 else {
            throw APIError.badRequest("size must be the upload's length in bytes (more than 0)", detail: "got \(wanted.size)")
        }
        if wanted.size > restore.maxUploadBytes {
            throw APIError.tooLarge("the upload", max: restore.maxUploadBytes, setting: "max_upload_bytes")
        }
        if let name = wanted.fileName, name.utf8.count > 255 || name.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            throw APIError.badRequest("file_name must be a plain file name (at most 255 bytes, no control characters)")
        }
        let fields = wanted.fields
        _ = try RestoreRoutes.modeAndDeps(fields, backupType: nil)
        try await restore.jobs.refuseIfAtLimit(username: user.username)
        if wanted.noWait == true { try await RiskyFields.refuseIfBusy(pool: pool, operation: "restore") }

        let id = UUID().uuidString.lowercased()
        guard let paths = UploadSession.paths(directory: storage.directory, id: id) else {
            throw APIError(.internalServerError, "cannot create the upload")
        }
        let session = UploadSession(
            id: id, username: user.username, size: wanted.size, fileName: wanted.fileName, fields: fields,
            createdAt: Date().timeIntervalSince1970)
        let opened = try await FileCalls.open(paths.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard opened.fd >= 0 else { throw APIError(.internalServerError, "cannot store the upload", detail: opened.error) }
        await FileCalls.close(opened.fd)
        do {
            try await NIOThreadPool.singleton.runIfActive { try session.save(paths.record) }
        } catch {
            await FileCalls.unlink(paths.data)
            throw error
        }
        await audit.record(
            context, actor: user.username, action: "restore.upload", target: id, outcome: AuditLog.Outcome.accepted,
            detail: "\(wanted.size) bytes, file \(wanted.fileName ?? "-")")
        restore.logger.info(
            "restore upload session created",
            metadata: [
                "upload_id": "\(id)", "user": "\(user.username)",
                "bytes": "\(wanted.size)",
            ])
        let url = "/admin/restore/uploads/\(id)"
        let body = "{\"upload_id\":\"\(id)\",\"upload_url\":\"\(url)\",\"offset\":0,\"size\":\(wanted.size),\"window_s\":\(Int(window))}"
        var response = JSON.response(body, status: .created)
        response.headers[.location] = url
        response.headers.append(contentsOf: headers(session, offset: 0))
        return response
    }

    // MARK: - Status

    /// The caller's session and how many bytes the gateway holds; 404 (not the caller's, or gone), 410 (expired).
    private func status(_ context: GatewayRequestContext) async throws -> (UploadSession, Int) {
        let user = try context.requireAdmin()
        let (session, paths) = try await find(context, user: user)
        try await refuseIfExpired(session, paths)
        let size = try await NIOThreadPool.singleton.runIfActive {
            ((try? FileManager.default.attributesOfItem(atPath: paths.data))?[.size] as? NSNumber)?.intValue
        }
        guard let size else { throw Self.gone(session.id) }
        return (session, size)
    }

    private func find(_ context: GatewayRequestContext, user: AuthenticatedUser) async throws -> (UploadSession, (record: String, data: String)) {
        let id = context.parameters.get("id") ?? ""
        guard let paths = UploadSession.paths(directory: storage.directory, id: id) else { throw Self.gone(id) }
        let session = try await NIOThreadPool.singleton.runIfActive { UploadSession.load(paths.record) }
        // Another user's session is answered exactly as one that does not exist.
        guard let session, session.username == user.username else { throw Self.gone(id) }
        return (session, paths)
    }

    private func refuseIfExpired(_ session: UploadSession, _ paths: (record: String, data: String)) async throws {
        let window = self.window
        let idle = try await NIOThreadPool.singleton.runIfActive { UploadSession.idleSeconds(record: paths.record, data: paths.data) }
        guard let idle, idle > window else { return }
        await checkers.drop(session.id)
        if let jobID = session.jobID { await pipeline.cancel(jobID, reason: "the upload expired; nothing was changed") }
        await FileCalls.unlink(paths.data, paths.record)
        throw APIError(
            .gone, "this upload expired: the gateway keeps an unfinished upload \(Int(window)) s after its last byte",
            detail: "nothing was changed; start the upload again (kg admin restore FILE, without --resume)")
    }

    static func gone(_ id: String) -> APIError {
        APIError(
            .notFound, "no such upload",
            detail: "upload \(id.prefix(64)) does not exist, ended long ago or expired (restore_upload_window_s); start the upload again")
    }

    func headers(_ session: UploadSession, offset: Int) -> HTTPFields {
        var fields = HTTPFields()
        fields[Self.offsetHeader] = String(offset)
        fields[Self.lengthHeader] = String(session.size)
        fields[.cacheControl] = "no-store"
        return fields
    }

    // MARK: - Append

    private func append(_ request: Request, _ context: GatewayRequestContext) async throws -> Response {
        let user = try context.requireAdmin()
        let (found, paths) = try await find(context, user: user)
        var session = found
        try await refuseIfExpired(session, paths)
        guard let text = request.headers[Self.offsetHeader], let offset = Int(text), offset >= 0 else {
            throw APIError.badRequest(
                "send the Upload-Offset header: the byte this request's body starts at",
                detail: "HEAD \(request.uri.path) gives the offset the gateway holds")
        }
        let opened = try await FileCalls.open(paths.data, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard opened.fd >= 0 else {
            // The last byte came in meanwhile: the data file became the job's, and the upload ended.
            throw Self.gone(session.id)
        }
        let fd = opened.fd
        defer { close(fd) }  // also releases the lock
        let locked = try await NIOThreadPool.singleton.runIfActive { flock(fd, LOCK_EX | LOCK_NB) == 0 }
        let held = await FileCalls.size(fd) ?? 0
        guard locked else {
            throw conflict("another request is sending bytes to this upload; wait for it to end", offset: held)
        }
        guard offset == held else {
            throw conflict("the upload is at byte \(held), not \(offset)", offset: held)
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), offset + length > session.size {
            throw APIError(
                .contentTooLarge, "more bytes than the upload declared",
                detail: "the upload was created for \(session.size) bytes; this request would end at byte \(offset + length)")
        }

        var state = await checkers.take(session.id)
        if state?.bytes != held {
            // This gateway has not seen the stored prefix (restarted, or another gateway took the earlier bytes).
            let rebuilt = makeCheckState()
            let started = Date()
            try await UploadAppender.rebuild(rebuilt, dataPath: paths.data, bytes: held, on: restore.checkPool)
            if held > 0 {
                restore.logger.info(
                    "restore upload check rebuilt from the stored prefix",
                    metadata: [
                        "upload_id": "\(session.id)", "bytes": "\(held)",
                        "seconds": "\(String(format: "%.3f", Date().timeIntervalSince(started)))",
                    ])
            }
            state = rebuilt
        }
        guard let state else { throw APIError(.internalServerError, "no upload check") }
        // A pipelined restore that gave the upload up (it stalled) no longer loads it: another may start.
        if let jobID = session.jobID, await pipeline.replaceable(jobID) {
            session.jobID = nil
            try? await NIOThreadPool.singleton.runIfActive { [session] in try session.save(paths.record) }
        }
        let started = PipelineStart()
        var afterChunk: ((@Sendable () async throws -> Void) async -> Bool)?
        if session.jobID == nil && pipeline.applies(to: session) {
            afterChunk = { [pipeline, session] flush in
                guard let header = state.headerBeforeData else { return state.plain != false }
                // The header's bytes go to the file before the worker comes to read them.
                guard (try? await flush()) != nil else { return false }
                started.jobID = await pipeline.start(session, dataPath: paths.data, header: header, user: user) { id in
                    var named = session
                    named.jobID = id
                    try await NIOThreadPool.singleton.runIfActive { [named] in try named.save(paths.record) }
                }
                return false
            }
        }
        let outcome = await UploadAppender(
            fd: fd, state: state, declaredSize: session.size,
            bytesReceived: GatewayMetrics.bytesIn(.restore)
        )
        .receive(request.body, on: restore.checkPool, afterChunk: afterChunk)
        if let jobID = started.jobID { session.jobID = jobID }
        if outcome.appended > 0 || started.jobID != nil {
            if outcome.appended > 0 { session.parts += 1 }
            try? await NIOThreadPool.singleton.runIfActive { [session] in try session.save(paths.record) }
        }
        if let error = outcome.error {
            guard outcome.consistent else {
                // Temp storage cannot take the bytes (full, failing): the upload ends here, as a multipart one
                // does, and frees what it held rather than keep a part of it on a full volume.
                if let jobID = session.jobID { await pipeline.cancel(jobID, reason: "the upload ended: \(error)") }
                await FileCalls.unlink(paths.data, paths.record)
                throw error
            }
            await checkers.put(session.id, state)
            guard error is APIError else {
                // The client went away mid-body (a cut, a killed CLI): not a refusal. What arrived is
                // stored; the client continues from the offset HEAD gives.
                restore.logger.info(
                    "restore upload request broke off; the upload continues from its offset",
                    metadata: ["upload_id": "\(session.id)", "offset": "\(state.bytes)", "problem": "\(error)"])
                var response = Response(status: .noContent)
                response.headers.append(contentsOf: headers(session, offset: state.bytes))
                return response
            }
            throw error
        }
        guard state.bytes == session.size else {
            await checkers.put(session.id, state)
            var response = Response(status: .noContent)
            response.headers.append(contentsOf: headers(session, offset: state.bytes))
            return response
        }
        return try await finish(context, user: user, session: session, paths: paths, state: state)
    }

    /// The last byte is in: the verdict, then the job, as `POST /admin/restore` gives them.
    private func finish(
        _ context: GatewayRequestContext, user: AuthenticatedUser, session: UploadSession,
        paths: (record: String, data: String), state: UploadCheckState
    ) async throws -> Response {
        let report = try await restore.checkPool.runIfActive { state.checker.finish() }
        if let jobID = session.jobID,
            let answer = try await finishPipelined(jobID, context, user: user, session: session, paths: paths, report: report)
        {
            return answer
        }
        let job = restore.newJob(for: user)
        let (id, path) = (job.id, job.path)
        var logger = job.logger
        logger[metadataKey: "upload_id"] = "\(session.id)"
        do {
            try await FileCalls.rename(paths.data, path + ".partial")
        } catch {
            throw APIError(.internalServerError, "cannot store the upload", detail: "\(error)")
        }
        let parts = session.parts == 1 ? "1 request" : "\(session.parts) requests"
        do {
            let accepted = try await restore.queue(
                context, user: user, report: report, fields: session.fields, fileName: session.fileName,
                fileBytes: session.size, noWaitInQuery: false, jobID: id, path: path, logger: logger,
                auditDetail: ", resumable upload \(session.id) in \(parts)")
            // The upload has ended: its record goes (the job owns the bytes now).
            await FileCalls.unlink(paths.record)
            var response = try JSON.response(encoding: accepted, status: .accepted)
            response.headers.append(contentsOf: headers(session, offset: session.size))
            return response
        } catch let error as APIError where error.status.code < 500 {
            // A refusal ends the upload, as it ends a multipart one: nothing is kept.
            await FileCalls.unlink(path + ".partial", path, paths.record)
            throw error
        } catch {
            // The gateway's own trouble (the database away…): the bytes go back to the session, and a
            // PATCH at the last offset with an empty body finishes it again.
            if (try? await FileCalls.rename(path + ".partial", paths.data)) == nil { await FileCalls.unlink(path + ".partial", path) }
            throw error
        }
    }

    /// Takes the data file's exclusive lock, waiting at most `seconds` for the request that holds it.
    private static func lock(_ fd: Int32, within seconds: Double) async -> Bool {
        let until = Date().addingTimeInterval(seconds)
        while true {
            if (try? await NIOThreadPool.singleton.runIfActive({ flock(fd, LOCK_EX | LOCK_NB) == 0 })) == true { return true }
            guard Date() < until else { return false }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private func conflict(_ message: String, offset: Int) -> APIError {
        var error = APIError(.conflict, message, detail: "continue from byte \(offset) (the Upload-Offset header)")
        error.headers[Self.offsetHeader] = String(offset)
        return error
    }

    private func makeCheckState() -> UploadCheckState {
        UploadCheckState(
            checker: IntegrityChecker(
                maxDecompressedBytes: restore.maxDecompressedBytes,
                idMemoryBytes: restore.idCheckMemoryBytes, tempDirectory: storage.directory, checksDamageOnRefusal: false,
                peeksHeader: true))
    }
}

/// The pipelined restore a PATCH started, if any (set from the appender's callback).
private final class PipelineStart: @unchecked Sendable {
    var jobID: String?
}
