import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// Removes the resumable restore uploads (``UploadSession``) idle for longer than
/// `restore_upload_window_s`: their record and their data, every `interval` seconds, in every
/// gateway (they share the temp folder; removing is idempotent). A data file without a record
/// (its gateway died between the two) goes the same way. Kept apart from ``TempJanitor``, whose
/// rules never match `upload_*.json` or `upload_*.data`.
struct UploadSessionSweeper: Service {
    let directory: String
    let window: Double
    let interval: Double
    let logger: Logger
    var checkers: UploadCheckers?

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweepOnce()
                try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
        }
    }

    /// The ids of the sessions removed.
    @discardableResult
    func sweepOnce() async -> [String] {
        let directory = self.directory
        let window = self.window
        let removed: [String] =
            (try? await NIOThreadPool.singleton.runIfActive {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
                var removed: [String] = []
                for name in names where name.hasPrefix(UploadSession.prefix) && (name.hasSuffix(".json") || name.hasSuffix(".data")) {
                    let id = String(name.dropFirst(UploadSession.prefix.count).dropLast(5))
                    guard !removed.contains(id), let paths = UploadSession.paths(directory: directory, id: id),
                        let idle = UploadSession.idleSeconds(record: paths.record, data: paths.data), idle > window
                    else { continue }
                    unlink(paths.data)
                    unlink(paths.record)
                    removed.append(id)
                }
                return removed
            }) ?? []
        for id in removed {
            await checkers?.drop(id)
            logger.notice("removed an expired restore upload", metadata: ["upload_id": "\(id)", "window_s": "\(Int(window))"])
        }
        return removed
    }
}
