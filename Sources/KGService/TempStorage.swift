import Foundation
import KGFormat
import Logging

/// The temp folder that gateways and workers share. Every file in it is named
/// after its owner job (`backup_<job>.json`, `restore_<job>.json`), is removed
/// by its owner on every exit path, and a sweep at startup removes anything
/// older than the configured age (files whose owner died). Checkpoint files
/// (`.checkpoint_*`) are never swept by age: retention and the gateway's janitor
/// (which asks `kg_api.checkpoints`) decide about them.
public struct TempStorage: Sendable {
    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw ConfigError(
                "cannot create temp storage \(directory): \(error.localizedDescription); set temp_dir / KG_TEMP_DIR to a writable folder")
        }
    }

    /// The path of a backup job's file. Job ids are UUIDs, never user text.
    public func backupPath(jobID: UUID, gzip: Bool) -> String {
        backupPath(jobID: jobID, compression: gzip ? .gzip : .none)
    }

    public func backupPath(jobID: UUID, compression: BackupCompression) -> String {
        "\(directory)/backup_\(jobID.uuidString.lowercased()).json\(compression.fileSuffix)"
    }

    public func restorePath(jobID: UUID) -> String {
        "\(directory)/\(Self.restorePrefix)\(jobID.uuidString.lowercased()).json"
    }

    /// The body of a stitch request (its references), owned by the stitch job.
    public func stitchPath(jobID: UUID) -> String {
        "\(directory)/\(Self.stitchPrefix)\(jobID.uuidString.lowercased()).json"
    }

    public static let restorePrefix = "restore_"
    public static let stitchPrefix = "stitch_"

    /// The path of a risky job's checkpoint: `.checkpoint_<job>_<YYYYMMDD_HHMMSS>.json` (UTC).
    /// Never swept by age: kept checkpoints leave only through retention.
    public func checkpointPath(jobID: String, date: Date = Date()) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd_HHmmss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return "\(directory)/\(Self.checkpointPrefix)\(jobID.lowercased())_\(formatter.string(from: date)).json"
    }

    public static let checkpointPrefix = ".checkpoint_"

    /// Removes a file if present; never throws (cleanup paths must not fail).
    public func remove(_ path: String) {
        unlink(path)
    }

    /// Removes files older than `maxAgeHours`; returns how many.
    @discardableResult
    public func sweep(maxAgeHours: Double, logger: Logger) -> Int {
        let cutoff = Date().addingTimeInterval(-maxAgeHours * 3600)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        for name in names where !name.hasPrefix(Self.checkpointPrefix) {
            let path = "\(directory)/\(name)"
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeRegular,
                let modified = attributes[.modificationDate] as? Date, modified < cutoff
            else { continue }
            if unlink(path) == 0 {
                removed += 1
                logger.notice("removed abandoned temp file", metadata: ["file": "\(name)"])
            }
        }
        return removed
    }
}
