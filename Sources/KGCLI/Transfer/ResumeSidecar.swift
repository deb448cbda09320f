import Foundation

/// What `kg admin backup --resume` needs to continue an interrupted download,
/// kept beside its partial file as `<partial>.resume` (JSON, mode 0600): the
/// job, the server, the file's ETag once the gateway has said it, and how the
/// download was to be saved. Never a token: `--resume` signs in as any command does.
/// An encrypted download (age) also keeps its file key here (``AgeState``): the sidecar is
/// then a key file, and lives exactly as long as its partial file.
struct ResumeSidecar: Codable, Equatable {
    /// What continuing an age-encrypted partial file needs: the partial file holds the header,
    /// the nonce and whole 64 KiB chunks only, up to `sealedLength`; they cover the server's
    /// bytes up to `plaintextOffset`, where the download continues.
    struct AgeState: Codable, Equatable {
        /// The file key (16 bytes, base64): it opens this partial file and the finished backup.
        var fileKey: String
        var plaintextOffset: Int64
        var sealedLength: Int64

        enum CodingKeys: String, CodingKey {
            case fileKey = "age_file_key"
            case plaintextOffset = "plaintext_offset"
            case sealedLength = "sealed_length"
        }

        var keyBytes: [UInt8]? {
            Data(base64Encoded: fileKey).map { [UInt8]($0) }.flatMap { $0.count == 16 ? $0 : nil }
        }
    }

    static let suffix = ".resume"

    var jobID: String
    var server: String
    var etag: String?
    /// `none`, `gzip` or `zstd`: what the server sends (the worker compresses).
    var compression: String
    /// The name the download is saved under, and what a taken name does.
    var finalPath: String
    var onTaken: String
    /// Seconds the gateway keeps the file after its last read (`X-Resume-Window`).
    var windowSeconds: Int?
    var interruptedAt: Date
    /// Set for an age-encrypted download only.
    var age: AgeState? = nil

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case server, etag, compression
        case finalPath = "final_path"
        case onTaken = "on_taken"
        case windowSeconds = "window_s"
        case interruptedAt = "interrupted_at"
        case age
    }

    static func path(for partial: String) -> String { partial + suffix }

    func write(beside partial: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(self)
        let path = Self.path(for: partial)
        let temp = path + ".tmp"
        // Created 0600 by open(2) itself (it may hold a file key): never readable by others, not even for a moment.
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        var written = fd >= 0
        if written {
            written = data.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return false }
                    offset += n
                }
                return fsync(fd) == 0
            }
            close(fd)
        }
        guard written, rename(temp, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temp)
            throw CLIError("cannot write \(path): \(reason); the partial file \(partial) cannot be continued")
        }
    }

    /// Removes the encrypted partial files (and their kept keys) whose gateway window has passed
    /// since they were interrupted: nothing can continue them, and the key must not outlive them.
    /// Returns the partial files removed.
    @discardableResult
    static func sweepExpiredKeys(in folder: String, now: Date = Date()) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var removed: [String] = []
        for name in names where name.hasSuffix(".partial" + suffix) {
            let partial = folder + "/" + String(name.dropLast(suffix.count))
            guard let sidecar = try? read(partial: partial), sidecar.age != nil, let window = sidecar.windowSeconds,
                sidecar.interruptedAt.addingTimeInterval(Double(window)) < now
            else { continue }
            unlink(partial)
            remove(partial: partial)
            removed.append(partial)
        }
        return removed
    }

    static func read(partial: String) throws -> ResumeSidecar {
        let path = path(for: partial)
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError(
                "\(partial) has no \(suffix) file beside it, so kg cannot tell which backup it belongs to; "
                    + "remove it and take a new backup")
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let sidecar: ResumeSidecar
        do {
            sidecar = try decoder.decode(ResumeSidecar.self, from: data)
        } catch {
            throw CLIError("\(path) is not readable (\(error)); remove it and \(partial), and take a new backup")
        }
        // What goes into a URL or a header is checked, as any id the CLI sends (issue 20).
        guard UUID(uuidString: sidecar.jobID) != nil,
            sidecar.etag.map({ $0.unicodeScalars.allSatisfy { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f } }) ?? true,
            sidecar.age.map({ $0.keyBytes != nil && $0.plaintextOffset >= 0 && $0.sealedLength >= 0 }) ?? true
        else {
            throw CLIError("\(path) does not hold a job id, ETag and key kg wrote; remove it and \(partial), and take a new backup")
        }
        return sidecar
    }

    static func remove(partial: String) {
        unlink(path(for: partial))
    }

    /// The interrupted download to continue: `--output` names a partial file, its final
    /// file, or a folder; without it, backup_dir. In a folder: the newest partial with a sidecar.
    static func find(output: String?, backupDir: String) throws -> String {
        if let output {
            let expanded = (output as NSString).expandingTildeInPath
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDir), isDir.boolValue {
                return try newest(in: expanded, final: nil)
            }
            if expanded.hasSuffix(".partial") { return expanded }
            let folder = (expanded as NSString).deletingLastPathComponent
            return try newest(in: folder.isEmpty ? "." : folder, final: expanded)
        }
        return try newest(in: backupDir, final: nil)
    }

    private static func newest(in folder: String, final: String?) throws -> String {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var best: (path: String, date: Date)?
        for name in names where name.hasSuffix(".partial" + suffix) {
            let partial = folder + "/" + String(name.dropLast(suffix.count))
            guard FileManager.default.fileExists(atPath: partial),
                let sidecar = try? read(partial: partial), final == nil || sidecar.finalPath == final
            else { continue }
            if best == nil || sidecar.interruptedAt > best!.date { best = (partial, sidecar.interruptedAt) }
        }
        guard let best else {
            throw CLIError(
                "no interrupted backup to continue in \(folder)\(final.map { " for \($0)" } ?? "") "
                    + "(kg keeps NAME.partial and NAME.partial\(suffix) for one); take a new backup", exitCode: 1)
        }
        return best.path
    }
}
