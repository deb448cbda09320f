import Foundation
import KGDatabase
import KGFormat

/// A full backup's concepts cut into pieces by key and formatted by two database
/// connections at once, in one snapshot (docs/DESIGN.md "Two connections for the
/// concepts"): the backup's connection streams the even pieces into the file, a second
/// connection (here, on a thread of its own) formats the odd ones into spool files in temp
/// storage, and each spool is appended in its place as soon as the piece before it is written.
///
/// PostgreSQL formats each concept's JSON (its embedding's doubles, mostly) in one process
/// per connection, and one process was the backup's bottleneck. With two halves, the second
/// half came out in one burst once the first was written: the CLI, which had kept pace with
/// one connection, then checked half the file alone while the other core idled (0.7 s of a
/// 3.3 s backup of 531 MB). With many pieces the file grows at the pace of both connections
/// from the start and the last burst is one piece. The rows, their order and so the file's
/// bytes are those of one connection. Memory stays flat (spools are files, at most
/// ``spoolsAhead`` of them waiting); each spool is unlinked as soon as it is open, so it goes
/// with its descriptor even if the worker dies.
///
/// ```swift
/// let keys = try SplitExport.keys(db, concepts: count)   // in the backup's transaction
/// let second = SplitExport(url: db.url, snapshot: id, keys: keys, schemaVersion: 6, directory: tmp)
/// second.start()
/// for piece in 0...keys.count where piece % 2 == 1 { rows += try second.append(piece: piece, to: sink, after: wrote) }
/// ```
final class SplitExport: @unchecked Sendable {
    /// At most this many pieces (odd: the last piece streams from the backup's connection).
    static let maxPieces = 15
    /// Finished spools the second connection may hold before it waits for the file to take them.
    static let spoolsAhead = 2

    private let url: String
    private let snapshot: String
    private let keys: [String]
    private let schemaVersion: Int
    private let directory: String
    private let finished = DispatchSemaphore(value: 0)
    // Shared by the two threads; every use holds `condition`.
    private let condition = NSCondition()
    private var spools: [Int: (fd: Int32, rows: Int)] = [:]
    private var failure: Error?
    private var threadEnded = false
    private var stopRequested = false
    private var started = false
    /// Whether the thread's end has been waited for (by the caller's thread only).
    private var joined = false

    private struct Stopped: Error {}

    /// The keys that cut `concepts` concepts into up to ``maxPieces`` pieces of about equal
    /// size, in the key's order (one pass over the key's index, in `db`'s snapshot).
    static func keys(_ db: PGConnection, concepts: Int) throws -> [String] {
        let pieces = min(maxPieces, concepts)
        guard pieces >= 2 else { return [] }
        let step = (concepts + pieces - 1) / pieces
        return try db.query(BackupQueries.conceptPieceKeys, [String(step)]).namedRows.compactMap { $0["k"] }
    }

    /// Sets `db`'s bounds for piece `piece` of the pieces `keys` cut (0...keys.count) and
    /// returns which bounds the query must apply.
    static func bound(_ db: PGConnection, piece: Int, keys: [String]) throws -> BackupQueries.Piece {
        if piece > 0 { try db.query("SELECT set_config('kg.backup_from', $1, true)", [keys[piece - 1]]) }
        if piece < keys.count { try db.query("SELECT set_config('kg.backup_below', $1, true)", [keys[piece]]) }
        return BackupQueries.Piece(from: piece > 0, below: piece < keys.count)
    }

    /// - Parameters:
    ///   - snapshot: the id the first connection exported (``LongValueExport/snapshot``).
    ///   - keys: from ``keys(_:concepts:)``; this connection exports the odd pieces.
    ///   - directory: where the spools live while they are written (worker temp storage).
    init(url: String, snapshot: String, keys: [String], schemaVersion: Int, directory: String) {
        self.url = url
        self.snapshot = snapshot
        self.keys = keys
        self.schemaVersion = schemaVersion
        self.directory = directory
    }

    deinit {
        for spool in spools.values { close(spool.fd) }
    }

    /// Starts the second connection's export on a thread of its own.
    func start() {
        condition.withLock { started = true }
        let thread = Thread { [self] in
            let result = Result { try export() }
            condition.withLock {
                if case .failure(let error) = result, !(error is Stopped) { failure = error }
                threadEnded = true
                condition.broadcast()
            }
            finished.signal()
        }
        thread.name = "kg-export-split"
        thread.start()
    }

    /// Stops the second export if it still runs (the first one failed) and waits for its
    /// thread; after the last ``append(piece:to:after:)``, it has ended already.
    func abandon() {
        let wasStarted = condition.withLock {
            stopRequested = true
            condition.broadcast()
            return started
        }
        if wasStarted { join() }
    }

    private func join() {
        guard !joined else { return }
        finished.wait()
        joined = true
    }

    /// Waits for odd piece `piece`, then writes it to `sink` (after `",\n"` when a record
    /// was written before and this piece has any). Returns the piece's rows.
    func append(piece: Int, to sink: FileSink, after wroteRecords: Bool) throws -> Int {
        let spool: (fd: Int32, rows: Int) = try condition.withLock {
            while spools[piece] == nil && failure == nil && !threadEnded { condition.wait() }
            guard let spool = spools.removeValue(forKey: piece) else {
                throw failure ?? JobFailure(.unexpected, "the second export connection ended without piece \(piece) of the concepts")
            }
            condition.broadcast()
            return spool
        }
        defer { close(spool.fd) }
        if spool.rows > 0 && wroteRecords { try sink.write(",\n") }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(spool.fd, $0.baseAddress, $0.count, offset) }
            if n < 0 {
                throw JobFailure(.storage, "cannot read the export's spool file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += off_t(n)
        }
        return spool.rows
    }

    private func export() throws {
        let db = try PGConnection(url: url, applicationName: "kg-worker-export-split")
        defer { db.close() }
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try db.execute("SET TRANSACTION SNAPSHOT '\(snapshot)'")
        try db.query("SET LOCAL enable_sort = off")
        let longValues = LongValueExport(url: url, snapshot: snapshot)
        defer { longValues.close() }
        for piece in stride(from: 1, through: keys.count, by: 2) {
            let mayGo = condition.withLock {
                while spools.count >= Self.spoolsAhead && !stopRequested { condition.wait() }
                return !stopRequested
            }
            guard mayGo else { throw Stopped() }
            let spool = try export(piece: piece, db, longValues)
            condition.withLock {
                spools[piece] = spool
                condition.broadcast()
            }
        }
        _ = try? db.execute("ROLLBACK")
    }

    /// One odd piece into a spool file: its descriptor, open for reading and already unlinked.
    private func export(piece: Int, _ db: PGConnection, _ longValues: LongValueExport) throws -> (fd: Int32, rows: Int) {
        let path = directory + "/.export_split_" + UUID().uuidString.lowercased() + ".json"
        let sink = try FileSink(path: path, compression: .none, flushAt: 1 << 20)
        let readFD = open(path, O_RDONLY | O_CLOEXEC)
        unlink(path)
        guard readFD >= 0 else { throw JobFailure(.storage, "cannot open the export's spool file: \(String(cString: strerror(errno)))") }
        var kept = false
        defer { if !kept { close(readFD) } }
        let bounds = try Self.bound(db, piece: piece, keys: keys)
        let sql = BackupQueries.copy(section: "concepts", type: .full, schemaVersion: schemaVersion, longValues: true, piece: bounds)
        var reader = CopyBinaryFieldReader()
        var first = true
        let comma = Array(",\n".utf8)
        _ = try db.copyOut(sql) { chunk in
            if condition.withLock({ stopRequested }) { throw Stopped() }
            try reader.feed(chunk) { field in
                guard let field else { throw JobFailure(.unexpected, "unexpected NULL record in concepts") }
                if !first { try comma.withUnsafeBytes { try sink.write($0) } }
                first = false
                try longValues.write(field, section: "concepts", to: sink)
            }
        }
        try sink.finish()
        kept = true
        return (readFD, reader.rows)
    }
}
