/// A failure reported by PostgreSQL or by libpq, with the server's SQLSTATE when there is one.
public struct PGError: Error, CustomStringConvertible, Sendable {
    /// Five-character SQLSTATE (for example `23505` unique violation), or nil for client-side failures.
    public let sqlState: String?
    public let message: String
    /// The table PostgreSQL names in its diagnostics (`PG_DIAG_TABLE_NAME`), when it names one.
    public let table: String?
    /// The constraint or index PostgreSQL names in its diagnostics (`PG_DIAG_CONSTRAINT_NAME`):
    /// for "index row size … exceeds" and unique violations, the index.
    public let constraint: String?

    public init(sqlState: String? = nil, _ message: String, table: String? = nil, constraint: String? = nil) {
        self.sqlState = sqlState
        self.message = message
        self.table = table
        self.constraint = constraint
    }

    public var description: String { message }

    /// The SQLSTATE PostgreSQL gives a text value it cannot hold (`untranslatable_character`),
    /// used for a bind parameter holding U+0000, refused before it reaches libpq.
    public static let nulSQLState = "22P05"

    /// A bind parameter (`$index`) that holds U+0000.
    public static func nulInParameter(_ index: Int) -> PGError {
        PGError(sqlState: nulSQLState, "parameter $\(index) holds the character U+0000, which PostgreSQL text cannot hold")
    }

    /// Whether this is the refusal of a text holding U+0000.
    public var isNULInText: Bool { sqlState == Self.nulSQLState }

    /// True when the connection itself is gone (server restarted, network cut):
    /// the caller may reconnect and retry the whole unit of work.
    public var isConnectionFailure: Bool {
        guard let state = sqlState else { return true }
        return state.hasPrefix("08") || state == "57P01" || state == "57P02" || state == "57P03"
    }
}
