import Foundation
import KGFormat

/// The integrity check of one resumable upload, fed with the first `bytes` bytes of its data file.
/// Used by one request at a time (the one holding the session's lock, off the registry meanwhile).
final class UploadCheckState: @unchecked Sendable {
    let checker: IntegrityChecker
    var bytes = 0
    /// Whether the upload is plain JSON (not gzip or zstd), by its first byte; nil before it.
    private(set) var plain: Bool?

    init(checker: IntegrityChecker) {
        self.checker = checker
    }

    /// The next bytes of the data file, through the check.
    func feed(_ chunk: UnsafeRawBufferPointer) {
        if bytes == 0, let first = chunk.first { plain = first != 0x1F && first != 0x28 }
        checker.feed(chunk)
        bytes += chunk.count
    }

    /// What the upload says before its `data` once that is complete (plain uploads only), else nil:
    /// a pipelined restore starts from it.
    var headerBeforeData: BackupHeaderPeek? {
        guard plain == true, let peek = checker.headerPeek, peek.sawData, peek.metadata["version"] != nil else { return nil }
        return peek
    }
}

/// The checks of the uploads this gateway received last, kept between a session's requests so a
/// request continues the check where the previous one stopped. A session whose check is not here
/// (another gateway took the previous request, this gateway restarted, or the entry was evicted)
/// gets a new check fed with its stored prefix first (``RestoreUploadRoutes``): the verdict is the
/// same either way. At most `capacity` entries, least recently used evicted first: each holds at
/// most `id_check_memory_bytes` of id facts.
actor UploadCheckers {
    private let capacity: Int
    private var entries: [String: (state: UploadCheckState, used: UInt64)] = [:]
    private var clock: UInt64 = 0

    init(capacity: Int = 4) {
        self.capacity = max(1, capacity)
    }

    /// The session's check, removed from the registry (the caller owns it until ``put(_:_:)``).
    func take(_ id: String) -> UploadCheckState? {
        entries.removeValue(forKey: id)?.state
    }

    func put(_ id: String, _ state: UploadCheckState) {
        clock += 1
        entries[id] = (state, clock)
        while entries.count > capacity, let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
            entries.removeValue(forKey: oldest)
        }
    }

    func drop(_ id: String) {
        entries.removeValue(forKey: id)
    }

    var count: Int { entries.count }
}
