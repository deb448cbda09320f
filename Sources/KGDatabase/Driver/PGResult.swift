import CLibPQ

/// The rows of one finished query, copied out of libpq (text format).
public struct PGResult: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    /// Rows changed by INSERT/UPDATE/DELETE, when the command reports it.
    public let affectedRows: Int

    init(_ res: OpaquePointer) {
        let nFields = Int(PQnfields(res))
        let nTuples = Int(PQntuples(res))
        var columns: [String] = []
        columns.reserveCapacity(nFields)
        for c in 0..<nFields {
            columns.append(String(cString: PQfname(res, Int32(c))))
        }
        var rows: [[String?]] = []
        rows.reserveCapacity(nTuples)
        for r in 0..<nTuples {
            var row: [String?] = []
            row.reserveCapacity(nFields)
            for c in 0..<nFields {
                if PQgetisnull(res, Int32(r), Int32(c)) == 1 {
                    row.append(nil)
                } else {
                    row.append(String(cString: PQgetvalue(res, Int32(r), Int32(c))))
                }
            }
            rows.append(row)
        }
        self.columns = columns
        self.rows = rows
        self.affectedRows = Int(String(cString: PQcmdTuples(res))) ?? 0
    }

    public var isEmpty: Bool { rows.isEmpty }

    /// The value of `column` in the first row, or nil when there is no row or the value is NULL.
    public func first(_ column: String) -> String? {
        guard let row = rows.first, let index = columns.firstIndex(of: column) else { return nil }
        return row[index]
    }

    /// The value of `column` in the first row as a `T` (`first("n", as: Int.self) ?? 0`); nil when there is
    /// no row, or the value is NULL or not a `T`.
    public func first<T: PGDecodable>(_ column: String, as type: T.Type) -> T? {
        guard let row = rows.first else { return nil }
        return PGRow(columns: columns, values: row).decode(column, as: type)
    }

    /// The rows, each read by column name and decoded (``PGRow``).
    public var namedRows: [PGRow] { rows.map { PGRow(columns: columns, values: $0) } }

    /// The rows as dictionaries keyed by column name.
    public var records: [[String: String?]] {
        rows.map { row in
            var record: [String: String?] = [:]
            for (index, name) in columns.enumerated() { record[name] = row[index] }
            return record
        }
    }
}
