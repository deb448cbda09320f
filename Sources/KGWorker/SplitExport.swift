import Foundation
import KGDatabase
import KGFormat

/// The second half of a full backup's concepts, exported on a connection of its own in the
/// backup's snapshot while the first connection streams the first half (docs/DESIGN.md
/// "Two connections for the concepts").
///
/// PostgreSQL formats each concept's JSON (its embedding's doubles, mostly) in one process
/// per connection, and that process was the backup's bottleneck: one core busy, the other
/// half idle. Here a second backend formats the rows from the split key on, at the same
/// time, into a spool file in temp storage; once the first half is written, the spool is
/// appended after it. The rows, their order and so the file's bytes are those of one
/// connection. Memory stays flat (the spool is a file); the spool is unlinked as soon as it
/// is open, so it goes with its descriptors even if the worker dies.
///
/// ```swift
/// let second = try SplitExport(url: db.url, snapshot: id, split: key, schemaVersion: 6, directory: tmp)
/// second.start()
/// // … the first half to the sink …
/// let rows = try second.append(to: sink, after: firstRows > 0)
/// ```
final class SplitExport: @unchecked Sendable {
    private let url: String
    private let snapshot: String
    private let split: String
    private let sql: String
    private let spool: FileSink
    private let readFD: Int32
    private let finished = DispatchSemaphore(value: 0)
    // Shared by the two threads; every use holds `lock`.
    private let lock = NSLock()
    private var stopRequested = false
    private var outcome: Result<Int, Error>?
    private var started = false
    /// Whether the thread's end has been waited for (by the caller's thread only).
    private var joined = false

    private struct Stopped: Error {}

    /// - Parameters:
    ///   - snapshot: the id the first connection exported (``LongValueExport/snapshot``).
    ///   - split: the first concept id of the second half.
    ///   - directory: where the spool lives while it is written (worker temp storage).
    init(url: String, snapshot: String, split: String, schemaVersion: Int, directory: String) throws {
        self.url = url
        self.snapshot = snapshot
        self.split = split
        sql = BackupQueries.copy(section: "concepts", type: .full, schemaVersion: schemaVersion, longValues: true, half: .from)
        let path = directory + "/.export_split_" + UUID().uuidString.lowercased() + ".json"
        spool = try FileSink(path: path, compression: .none, flushAt: 1 << 20)
        readFD = open(path, O_RDONLY | O_CLOEXEC)
        unlink(path)
        guard readFD >= 0 else { throw JobFailure(.storage, "cannot open the export's spool file: \(String(cString: strerror(errno)))") }
    }

    deinit { close(readFD) }

    /// Starts the second connection's export on a thread of its own.
    func start() {
        lock.withLock { started = true }
        let thread = Thread { [self] in
            let result = Result { try export() }
            lock.withLock { outcome = result }
            finished.signal()
        }
        thread.name = "kg-export-split"
        thread.start()
    }

    /// Stops the second export if it still runs (the first one failed) and waits for its
    /// thread; after ``append(to:after:)``, nothing to do.
    func abandon() {
        let wasStarted = lock.withLock {
            stopRequested = true
            return started
        }
        if wasStarted { join() }
    }

    private func join() {
        guard !joined else { return }
        finished.wait()
        joined = true
    }

    /// Waits for the second half, then writes it to `sink` (after `",\n"` when the first
    /// half wrote a record and this one has any). Returns the second half's rows.
    func append(to sink: FileSink, after firstHasRows: Bool) throws -> Int {
        join()
        let rows = try lock.withLock { outcome! }.get()
        if rows > 0 && firstHasRows { try sink.write(",\n") }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(readFD, $0.baseAddress, $0.count, offset) }
            if n < 0 {
                throw JobFailure(.storage, "cannot read the export's spool file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += off_t(n)
        }
        return rows
    }

    private func export() throws -> Int {
        let db = try PGConnection(url: url, applicationName: "kg-worker-export-split")
        defer { db.close() }
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try db.execute("SET TRANSACTION SNAPSHOT '\(snapshot)'")
        try db.query("SET LOCAL enable_sort = off")
        try db.query("SELECT set_config('kg.backup_split', $1, true)", [split])
        let longValues = LongValueExport(url: url, snapshot: snapshot)
        defer { longValues.close() }
        var reader = CopyBinaryFieldReader()
        var first = true
        let comma = Array(",\n".utf8)
        _ = try db.copyOut(sql) { chunk in
            if lock.withLock({ stopRequested }) { throw Stopped() }
            try reader.feed(chunk) { field in
                guard let field else { throw JobFailure(.unexpected, "unexpected NULL record in concepts") }
                if !first { try comma.withUnsafeBytes { try spool.write($0) } }
                first = false
                try longValues.write(field, section: "concepts", to: spool)
            }
        }
        try spool.finish()
        _ = try? db.execute("ROLLBACK")
        return reader.rows
    }
}
