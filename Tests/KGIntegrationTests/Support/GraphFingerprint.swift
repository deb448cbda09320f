import Foundation
import KGDatabase

/// The whole graph as one digest per table of schema `kg`: every table the
/// schema has (read from the catalog, so a new table is covered without
/// touching the tests), every column of every row, rows in a fixed order.
/// Two fingerprints are equal only when every section is equal record for
/// record; `differences(from:)` names the tables that differ.
///
/// ```swift
/// let before = try stack.fingerprint()
/// … a restore that must roll back …
/// XCTAssertEqual(try stack.fingerprint(), before, before.differences(from: try stack.fingerprint()))
/// ```
struct GraphFingerprint: Equatable, CustomStringConvertible {
    enum Scope {
        /// Every column: for "nothing changed" (a rollback, a dry run, a refused file).
        case exact
        /// Every column but those a restore makes anew by design (`surrogateColumns`):
        /// for "the graph is what the backup holds" after a completed restore.
        case content
    }

    /// Columns whose values are the database's, not the backup's: a restore
    /// numbers relationships afresh (file order) and stamps ontologies with
    /// `now()`; backups carry neither.
    static let surrogateColumns: [String: Set<String>] = ["relationships": ["relationship_id"], "ontologies": ["created_at"]]

    /// Table name → "N rows, md5".
    let tables: [String: String]

    init(_ db: PGConnection, scope: Scope = .exact) throws {
        let columns = try db.query(
            """
            SELECT c.table_name, c.column_name FROM information_schema.columns c
            JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
            WHERE c.table_schema = 'kg' AND t.table_type = 'BASE TABLE'
            ORDER BY c.table_name, c.ordinal_position
            """
        ).rows
        var byTable: [String: [String]] = [:]
        for row in columns {
            guard let table = row[0], let column = row[1] else { continue }
            if scope == .content, Self.surrogateColumns[table]?.contains(column) == true { continue }
            byTable[table, default: []].append(column)
        }
        var tables: [String: String] = [:]
        for (table, names) in byTable {
            // ROW(...)::text prints arrays, jsonb and float8 exactly (shortest round-trip form).
            let row = "ROW(" + names.map { "t.\(Self.quoted($0))" }.joined(separator: ", ") + ")::text"
            tables[table] =
                try db.query(
                    """
                    SELECT count(*) || ' rows, ' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '-') AS d
                    FROM (SELECT \(row) AS r FROM kg.\(Self.quoted(table)) t) rows
                    """
                ).first("d") ?? "?"
        }
        self.tables = tables
    }

    /// The tables whose content differs, with both digests (for failure messages).
    func differences(from other: GraphFingerprint) -> String {
        let names = Set(tables.keys).union(other.tables.keys).sorted()
        let differing = names.filter { tables[$0] != other.tables[$0] }
        if differing.isEmpty { return "no table differs" }
        return "tables that differ: "
            + differing.map { "kg.\($0) (\(tables[$0] ?? "missing") vs \(other.tables[$0] ?? "missing"))" }
            .joined(separator: "; ")
    }

    var description: String {
        tables.keys.sorted().map { "kg.\($0): \(tables[$0]!)" }.joined(separator: "\n")
    }

    private static func quoted(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
