import Foundation
import KGDatabase
import KGFormat

/// Writes records whose long text values (over `BackupQueries.longValueBytes`) come
/// from PostgreSQL as markers, fetching each value in 1 MiB pieces.
///
/// A record is one COPY row: libpq hands it over whole (its input buffer and the
/// returned copy both hold it), so a 1 GB `full_text` would cost the worker more
/// than 2 GB, and PostgreSQL could not even build a record whose JSON passes 1 GB.
/// Instead the export query writes `"\u0000kg-long:<column>:<ctid>"` for a long
/// value (PostgreSQL text cannot hold U+0000, so no real value looks like it) and
/// flags the record with a leading `~`. For each marker, a second connection in the
/// same snapshot (`pg_export_snapshot`, so the value is the one of the backup's
/// snapshot) copies the value out as 1 MiB pieces of its UTF-8 bytes
/// (`substring` of one `convert_to`, computed once per value), which are JSON-escaped
/// with PostgreSQL's rule and written in place. The worker holds a piece, not the value;
/// PostgreSQL's backend holds the value (twice: the text and its bytes) while it is read.
final class LongValueExport {
    static let marker: [UInt8] = Array("\"\\u0000kg-long:".utf8)
    static let pieceBytes = 1 << 20

    private let url: String
    /// The exported snapshot's id (``SplitExport`` opens its connection in it too).
    let snapshot: String
    private var connection: PGConnection?
    private var escaped: [UInt8] = []
    /// Long values written so far.
    private(set) var values = 0

    /// Exports the snapshot of `db`'s transaction (call inside it, before the first COPY).
    init(db: PGConnection) throws {
        url = db.url
        snapshot = try db.query("SELECT pg_export_snapshot() AS s").first("s") ?? ""
        guard !snapshot.isEmpty, snapshot.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x46) })
        else {
            throw JobFailure(.unexpected, "PostgreSQL returned an unexpected snapshot id \(JSONEscaping.quoted(snapshot))")
        }
    }

    /// For a connection already in the backup's snapshot (``SplitExport``): `snapshot` is
    /// the id the first connection exported, which stays valid while its transaction runs.
    init(url: String, snapshot: String) {
        self.url = url
        self.snapshot = snapshot
    }

    deinit { close() }

    func close() {
        if let connection {
            _ = try? connection.execute("ROLLBACK")
            connection.close()
        }
        connection = nil
    }

    /// Writes one record of `section` to `sink`, its markers replaced by their values.
    func write(_ field: UnsafeRawBufferPointer, section: String, to sink: FileSink) throws {
        guard field.first == UInt8(ascii: "~") else {
            try sink.write(field)
            return
        }
        var rest = UnsafeRawBufferPointer(rebasing: field[1...])
        while let at = Self.find(Self.marker, in: rest) {
            try sink.write(UnsafeRawBufferPointer(rebasing: rest[..<at]))
            let specStart = at + Self.marker.count
            guard let close = rest[specStart...].firstIndex(of: UInt8(ascii: "\"")) else {
                throw JobFailure(.unexpected, "\(section): a long value's marker is not closed")
            }
            let spec = String(decoding: rest[specStart..<close], as: UTF8.self)
            let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, BackupQueries.longColumns[section]?.contains(parts[0]) == true,
                let table = BackupQueries.longTables[section], Self.isTID(parts[1])
            else {
                throw JobFailure(.unexpected, "\(section): unexpected long value marker \(JSONEscaping.quoted(spec))")
            }
            try sink.write("\"")
            try stream(table: table, column: parts[0], ctid: parts[1], section: section, to: sink)
            try sink.write("\"")
            rest = UnsafeRawBufferPointer(rebasing: rest[(close + 1)...])
        }
        try sink.write(rest)
    }

    private func stream(table: String, column: String, ctid: String, section: String, to sink: FileSink) throws {
        let db = try session()
        var reader = CopyBinaryFieldReader()
        // OFFSET 0 keeps the subquery whole, so convert_to runs once per value, not once per piece.
        let sql = """
            COPY (SELECT substring(x.b FROM k FOR \(Self.pieceBytes))
                  FROM (SELECT convert_to(\(column), 'UTF8') AS b FROM \(table) WHERE ctid = '\(ctid)'::tid OFFSET 0) x,
                       generate_series(1, octet_length(x.b), \(Self.pieceBytes)) AS k) TO STDOUT (FORMAT binary)
            """
        _ = try db.copyOut(sql) { chunk in
            try reader.feed(chunk) { piece in
                guard let piece else { throw JobFailure(.unexpected, "\(section): a long \(column) came back as NULL") }
                escaped.removeAll(keepingCapacity: true)
                JSONEscaping.appendEscaped(piece, to: &escaped)
                try escaped.withUnsafeBytes { try sink.write($0) }
            }
        }
        guard reader.rows > 0 else {
            throw JobFailure(.unexpected, "\(section): a long \(column) (row \(ctid)) was not found again in the backup's snapshot")
        }
        values += 1
    }

    /// The second connection, in the backup's snapshot.
    private func session() throws -> PGConnection {
        if let connection { return connection }
        let created = try PGConnection(url: url, applicationName: "kg-worker-long-values")
        do {
            try created.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try created.execute("SET TRANSACTION SNAPSHOT '\(snapshot)'")
        } catch {
            created.close()
            throw error
        }
        connection = created
        return created
    }

    /// `(block,offset)`, the text form of a tid.
    static func isTID(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count >= 5, b.first == UInt8(ascii: "("), b.last == UInt8(ascii: ")") else { return false }
        let inner = b[1..<(b.count - 1)]
        let parts = inner.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        return parts.count == 2 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
    }

    /// Where `needle` (which starts with a quote) first occurs in `haystack`.
    static func find(_ needle: [UInt8], in haystack: UnsafeRawBufferPointer) -> Int? {
        guard let base = haystack.baseAddress else { return nil }
        var from = 0
        while haystack.count - from >= needle.count {
            guard let hit = memchr(base + from, Int32(needle[0]), haystack.count - from) else { return nil }
            let at = base.distance(to: UnsafeRawPointer(hit))
            if haystack.count - at < needle.count { return nil }
            if needle.withUnsafeBytes({ memcmp(base + at, $0.baseAddress!, needle.count) }) == 0 { return at }
            from = at + 1
        }
        return nil
    }
}
