import Foundation

/// One resumable restore upload (``RestoreUploadRoutes``), kept in the shared temp folder so that
/// any gateway can continue it, and one restarted after a crash too:
///
/// - `upload_<id>.json`: this record (who, the declared size, the restore's fields), replaced
///   atomically (`.partial` then rename);
/// - `upload_<id>.data`: the bytes received so far: its length is the upload's offset. A request
///   appending to it holds an exclusive `flock` on it, so two requests never interleave.
///
/// The session's last activity is the newer of the two files' mtimes; `restore_upload_window_s`
/// after it the session has expired (``UploadSessionSweeper`` removes both files).
struct UploadSession: Codable, Sendable {
    var id: String
    var username: String
    /// The declared size of the upload, in bytes.
    var size: Int
    var fileName: String?
    /// The restore's fields, as the multipart route gets them (`mode`, `dry_run`, `external_deps`, …).
    var fields: [String: String]
    var createdAt: Double
    /// PATCH requests that brought bytes (1 for an upload that was never cut).
    var parts = 0
    /// The restore job loading this upload while it arrives (``RestorePipeline``), if one was started.
    var jobID: String?
    enum CodingKeys: String, CodingKey {
        case id, username, size
        case fileName = "file_name"
        case fields
        case createdAt = "created_at"
        case parts
        case jobID = "job_id"
    }

    static let prefix = "upload_"

    /// The session's paths in `directory`, or nil when `id` is not a UUID (user text never reaches a path).
    static func paths(directory: String, id: String) -> (record: String, data: String)? {
        guard let uuid = UUID(uuidString: id) else { return nil }
        let stem = "\(directory)/\(prefix)\(uuid.uuidString.lowercased())"
        return (stem + ".json", stem + ".data")
    }

    /// Reads a session record (blocking: call on a thread pool); nil when absent or unreadable.
    static func load(_ path: String) -> UploadSession? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(UploadSession.self, from: data)
    }

    /// Writes the record atomically (blocking: call on a thread pool).
    func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(self)
        let temporary = path + ".partial"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw APIError(.init(code: 507), "temp storage cannot take the upload", detail: "cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            let problem = String(cString: strerror(errno))
            unlink(temporary)
            throw APIError(.init(code: 507), "temp storage cannot take the upload", detail: problem)
        }
    }

    /// Seconds since the session last changed (the newer mtime of its two files), or nil when neither exists.
    static func idleSeconds(record: String, data: String, now: Date = Date()) -> Double? {
        let dates = [record, data].compactMap { path in
            (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        }
        guard let newest = dates.max() else { return nil }
        return now.timeIntervalSince(newest)
    }
}
