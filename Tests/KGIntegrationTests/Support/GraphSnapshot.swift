import Foundation
import KGDatabase

/// Every graph table's rows as text, every column, in key order; `double precision`
/// values also as their IEEE bits (`float8send`), so -0, NaN and subnormals count.
/// Relationships are listed in `relationship_id` order without that surrogate key
/// (a restore keeps order and multiplicity, not the identity column's numbers).
struct GraphSnapshot: Equatable {
    let tables: [String: String]

    static let queries: [String: String] = [
        "ontologies": "SELECT string_agg(\(short("o::text")), E'\\n' ORDER BY o.name) FROM kg.ontologies o",
        "vocabulary": """
        SELECT string_agg(\(short("v::text")) || ' bits:' || \(bits("v.embedding")), E'\\n' ORDER BY v.relationship_type) FROM kg.vocabulary v
        """,
        "concepts": """
        SELECT string_agg(\(short("c::text")) || ' bits:' || \(bits("c.embedding")), E'\\n' ORDER BY c.concept_id) FROM kg.concepts c
        """,
        "sources": "SELECT string_agg(\(short("s::text")), E'\\n' ORDER BY s.source_id) FROM kg.sources s",
        "instances": "SELECT string_agg(\(short("i::text")), E'\\n' ORDER BY i.instance_id) FROM kg.instances i",
        "evidence": "SELECT string_agg(e::text, E'\\n' ORDER BY e.instance_id, e.concept_id) FROM kg.evidence e",
        "relationships": """
        SELECT string_agg(\(short("(r.from_concept_id, r.to_concept_id, r.relationship_type, r.properties)::text")), E'\\n'
                          ORDER BY r.relationship_id) FROM kg.relationships r
        """,
    ]

    /// A row's text, or for a long row (a value of many megabytes) its md5 and length:
    /// equal texts, equal digests; a failure message stays readable.
    private static func short(_ row: String) -> String {
        "(CASE WHEN octet_length(\(row)) > 100000 THEN 'md5:' || md5(\(row)) || ' bytes:' || octet_length(\(row)) ELSE \(row) END)"
    }

    private static func bits(_ column: String) -> String {
        """
        coalesce((SELECT string_agg(coalesce(encode(float8send(x), 'hex'), 'NULL'), ',' ORDER BY n)
                  FROM unnest(\(column)) WITH ORDINALITY u(x, n)), '<none>')
        """
    }

    init(_ db: PGConnection) throws {
        var tables: [String: String] = [:]
        for (name, sql) in Self.queries {
            tables[name] = try db.query(sql).rows.first?[0] ?? "<empty>"
        }
        self.tables = tables
    }

    /// The tables whose rows differ, with both texts (for a failure message).
    func differences(to other: GraphSnapshot) -> String {
        tables.keys.sorted().filter { tables[$0] != other.tables[$0] }.map { name in
            "== \(name)\nexpected:\n\(tables[name] ?? "")\nfound:\n\(other.tables[name] ?? "")"
        }.joined(separator: "\n")
    }
}
