/// One row of a ``PGResult``, read by column name and decoded to a Swift type
/// (postgres-nio's `row.decode`, for libpq's text format).
///
/// ```swift
/// let n = try db.query("SELECT count(*) AS n FROM kg.concepts").first("n", as: Int.self) ?? 0
/// for row in result.namedRows { let status = row["status"] ?? ""; let n = row.decode("n", as: Int.self) ?? 0 }
/// ```
public struct PGRow: Sendable {
    public let columns: [String]
    public let values: [String?]

    public init(columns: [String], values: [String?]) {
        self.columns = columns
        self.values = values
    }

    /// The text of `column`; nil when the value is NULL or the row has no such column.
    public subscript(_ column: String) -> String? {
        guard let index = columns.firstIndex(of: column), index < values.count else { return nil }
        return values[index]
    }

    /// The value of `column` as a `T`; nil when it is NULL, missing, or not a `T`.
    public func decode<T: PGDecodable>(_ column: String, as type: T.Type = T.self) -> T? {
        self[column].flatMap(T.init(pgText:))
    }
}
