import KGTestSupport
import Foundation
import KGDatabase
import KGFormat

/// Graphs that are hard to carry exactly, inserted straight into PostgreSQL:
/// non-finite, negative-zero, subnormal and NULL elements in `double precision[]`,
/// NULL elements in `text[]`/`varchar[]`, text of every awkward kind (astral,
/// combining, right-to-left, U+2028, control characters, empty), instances that
/// evidence no concept, ontologies without sources, duplicate edges, and
/// relationship properties with large, tiny and nested numbers.
enum AdversarialGraph {
    /// Texts without U+0000 (PostgreSQL text cannot hold it).
    static let texts = [
        "", "plain", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 😀🏳️‍🌈", "e\u{301} a\u{308}\u{323}", "\u{5E9}\u{5DC}\u{5D5}\u{5DD} \u{202E}abc\u{202C}",
        "a\u{2028}b\u{2029}c", "ctl\u{01}\u{1F}\t\n\r\u{7F}\u{85}", "quote\"back\\slash\\N{,}", "NULL", "null", " padded ",
        "\u{FEFF}bom", "\\.", "NaN", "-Infinity", "{\"json\": [1]}",
    ]

    /// Array element literals for `double precision[]` (text PostgreSQL parses).
    static let specialFloats = [
        "NaN", "Infinity", "-Infinity", "-0", "0", "5e-324", "1e-320", "2.2250738585072014e-308",
        "1.7976931348623157e308", "-1.7976931348623157e308", "0.1", "NULL",
    ]

    /// The fixed graph of the fidelity tests.
    static func insertFixed(into db: PGConnection) throws {
        try db.execute(
            """
            INSERT INTO kg.ontologies (name, created_at) VALUES
                ('onto-α', '2001-02-03 04:05:06.789012+00'), ('empty ontology', '1999-12-31 23:59:59.999999+00');
            """)
        try db.query(
            """
            INSERT INTO kg.vocabulary (relationship_type, description, category, added_by, added_at, usage_count, is_active,
                is_builtin, synonyms, deprecation_reason, embedding_model, embedding_generated_at, embedding, direction_semantics)
            VALUES ('X_CUSTOM', $1, 'custom', $2, '2020-01-01 00:00:00.000001+00', 7, false, false, '{a,NULL,"",NULL}',
                $3, 'model', '2021-01-01T00:00:00Z', '{NaN,-0,NULL,Infinity,1e-320}', 'directed')
            """, [texts[2], texts[5], texts[6]])
        try db.execute("UPDATE kg.vocabulary SET embedding = '{-Infinity,0.5,NULL}', synonyms = '{NULL}' WHERE relationship_type = 'IMPLIES'")
        let concepts: [(String, String, String?, String, String, String?)] = [
            ("c-nan", "NaN concept", nil, #"{"NULL",NULL,"",",{\"}\\"}"#, "{0.1,NaN,Infinity,-0}", "2024-05-06 07:08:09.123456+00"),
            ("c-sub", texts[3], "", "{}", "{5e-324,1e-320,2.2250738585072014e-308,-1.7976931348623157e308,-Infinity}", nil),
            ("c-empty", texts[4], texts[6], #"{"a\u2028b"}"#, "{}", "2024-01-01 00:00:00+00"),
            ("c-nulls", texts[5], texts[7], "{NULL,NULL}", "{NULL,NULL}", "2024-01-02 00:00:00+00"),
            ("c-𝔘", "", texts[11], "{}", "{1,2,3}", "2024-01-03 00:00:00+00"),
        ]
        for c in concepts {
            try db.query(
                """
                INSERT INTO kg.concepts (concept_id, label, description, search_terms, embedding, created_at)
                VALUES ($1, $2, $3, $4::text[], $5::float8[], $6::timestamptz)
                """, [c.0, c.1, c.2, c.3, c.4, c.5])
        }
        try db.query(
            """
            INSERT INTO kg.sources (source_id, document, paragraph, full_text, file_path, content_type, garage_key, storage_key)
            VALUES ('s1', 'onto-α', 3, $1, NULL, 'text/plain', NULL, $2), ('s2', 'onto-α', 0, '', $3, NULL, '', NULL)
            """, [texts[6], texts[2], texts[4]])
        try db.query(
            """
            INSERT INTO kg.instances (instance_id, quote, source_id) VALUES
                ('i1', $1, 's1'), ('i-orphan', $2, 's1'), ('i-orphan-2', '', 's2'), ('i3', $3, 's2')
            """, [texts[3], texts[5], texts[7]])
        try db.execute(
            """
            INSERT INTO kg.evidence (instance_id, concept_id) VALUES ('i1', 'c-nan'), ('i1', 'c-sub'), ('i3', 'c-nulls');
            INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type, properties) VALUES
                ('c-nan', 'c-sub', 'IMPLIES', '{}'), ('c-nan', 'c-sub', 'IMPLIES', '{}'),
                ('c-sub', 'c-𝔘', 'X_CUSTOM', '{"big": 1e300, "tiny": 1e-300, "n": [1, {"x": null, "y": [[]]}], "s": "a\\u2028b"}'),
                ('c-nulls', 'c-nulls', 'CAUSES', '{"confidence": 0.30000000000000004, "huge": 123456789012345678901234567890}');
            """)
    }

    /// A random graph from `seed` (added to whatever the database holds).
    static func insertRandom(into db: PGConnection, seed: UInt64) throws {
        var rng = SeededGenerator(seed: seed)
        let tag = String(seed % 100_000)
        var ontologies: [String] = []
        for k in 0..<(1 + rng.below(3)) {
            let name = "o\(tag)-\(k)-" + rng.pick(texts)
            ontologies.append(name)
            try db.query(
                "INSERT INTO kg.ontologies (name, created_at) VALUES ($1, $2::timestamptz)",
                [name, "20\(10 + rng.below(15))-0\(1 + rng.below(9))-1\(rng.below(9)) 12:34:56.\(100000 + rng.below(899999))+00"])
        }
        let custom = "R_\(tag)"
        try db.query(
            """
            INSERT INTO kg.vocabulary (relationship_type, description, category, synonyms, embedding)
            VALUES ($1, $2, 'custom', $3::varchar[], $4::float8[])
            """, [custom, rng.pick(texts), rng.oneIn(3) ? nil : textArray(&rng, nonEmpty: true), rng.oneIn(3) ? nil : floatArray(&rng)])
        var concepts: [String] = []
        for k in 0..<(2 + rng.below(7)) {
            let id = "c\(tag)-\(k)" + (rng.oneIn(3) ? rng.pick(texts) : "")
            concepts.append(id)
            try db.query(
                """
                INSERT INTO kg.concepts (concept_id, label, description, search_terms, embedding, created_at)
                VALUES ($1, $2, $3, $4::text[], $5::float8[], $6::timestamptz)
                """,
                [
                    id, rng.pick(texts), rng.oneIn(3) ? nil : rng.pick(texts), textArray(&rng), floatArray(&rng),
                    rng.oneIn(4) ? nil : "2023-0\(1 + rng.below(9))-0\(1 + rng.below(9)) 01:02:03.\(rng.below(999999))+00",
                ])
        }
        var sourceCount = 0
        var instanceCount = 0
        for ontology in ontologies where !rng.oneIn(3) {  // some ontologies keep no source
            for _ in 0..<(1 + rng.below(3)) {
                let source = "s\(tag)-\(sourceCount)"
                sourceCount += 1
                try db.query(
                    """
                    INSERT INTO kg.sources (source_id, document, paragraph, full_text, file_path, content_type)
                    VALUES ($1, $2, $3::int, $4, $5, $6)
                    """,
                    [
                        source, ontology, String(rng.below(1000)), rng.pick(texts), rng.oneIn(2) ? nil : rng.pick(texts),
                        rng.oneIn(2) ? nil : "text/plain",
                    ])
                for _ in 0..<rng.below(4) {
                    let instance = "i\(tag)-\(instanceCount)"
                    instanceCount += 1
                    try db.query(
                        "INSERT INTO kg.instances (instance_id, quote, source_id) VALUES ($1, $2, $3)",
                        [instance, rng.pick(texts), source])
                    for concept in Set((0..<rng.below(3)).map { _ in rng.pick(concepts) }) {  // 0: an orphan instance
                        try db.query("INSERT INTO kg.evidence (instance_id, concept_id) VALUES ($1, $2)", [instance, concept])
                    }
                }
            }
        }
        for _ in 0..<rng.below(10) {
            let edge = [rng.pick(concepts), rng.pick(concepts), rng.pick(["IMPLIES", "CAUSES", custom]), properties(&rng, depth: 0)]
            for _ in 0..<(rng.oneIn(4) ? 2 : 1) {  // duplicate edges
                try db.query(
                    """
                    INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type, properties)
                    VALUES ($1, $2, $3, $4::jsonb)
                    """, edge)
            }
        }
    }

    /// Puts one text beyond 64 MiB (the old limit of a value) made of the awkward texts
    /// into a text column of a random row (seeded); returns where it went.
    static func insertLongText(into db: PGConnection, seed: UInt64) throws -> String {
        var rng = SeededGenerator(seed: seed)
        let unit = "long|" + (0..<16).map { _ in rng.pick(texts) }.joined(separator: "|")
        let bytes = (64 << 20) + rng.below(1 << 20) + 1
        let repetitions = bytes / unit.utf8.count + 1
        let targets = [
            ("kg.sources", "full_text", "source_id"), ("kg.concepts", "description", "concept_id"),
            ("kg.concepts", "label", "concept_id"), ("kg.instances", "quote", "instance_id"),
        ]
        for (table, column, key) in [rng.pick(targets), targets[1]] {
            let updated = try db.query(
                """
                UPDATE \(table) SET \(column) = repeat($1, $2::int)
                WHERE \(key) = (SELECT \(key) FROM \(table) ORDER BY \(key) LIMIT 1)
                """, [unit, String(repetitions)]
            ).affectedRows
            if updated > 0 { return "\(table).\(column), \(repetitions * unit.utf8.count) bytes" }
        }
        return "nowhere"
    }

    static func textArray(_ rng: inout SeededGenerator, nonEmpty: Bool = false) -> String {
        let items = (0..<(rng.below(4) + (nonEmpty ? 1 : 0))).map { _ -> String in
            rng.oneIn(4)
                ? "NULL"
                : "\""
                    + rng.pick(texts).replacingOccurrences(of: "\\", with: "\\\\")
                    .replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        return "{" + items.joined(separator: ",") + "}"
    }

    static func floatArray(_ rng: inout SeededGenerator) -> String {
        let items = (0..<rng.below(7)).map { _ -> String in
            if rng.oneIn(2) { return rng.pick(specialFloats) }
            // Any finite double, subnormals included (NaN payloads are not a PostgreSQL value).
            var value = Double(bitPattern: rng.next())
            while !value.isFinite { value = Double(bitPattern: rng.next()) }
            return "\(value)"
        }
        return "{" + items.joined(separator: ",") + "}"
    }

    static func properties(_ rng: inout SeededGenerator, depth: Int) -> String {
        if rng.oneIn(5) { return "{}" }
        let members = (0..<(1 + rng.below(4))).map { k -> String in
            JSONEscaping.quoted(rng.pick(["confidence", "category", "source", "created_at", "k\(k)", "ключ", ""])) + ":"
                + jsonValue(&rng, depth: depth + 1)
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    static func jsonValue(_ rng: inout SeededGenerator, depth: Int) -> String {
        switch rng.below(depth > 3 ? 6 : 8) {
        case 0: return rng.pick(["1e300", "-1e-300", "123456789012345678901234567890.5", "0.1", "-0", "5e-324", "1E+2"])
        case 1: return String(Int64(bitPattern: rng.next()))
        case 2: return JSONEscaping.quoted(rng.pick(texts))
        case 3: return rng.pick(["true", "false", "null"])
        case 4: return "\(Double(bitPattern: rng.next() & 0x7FEF_FFFF_FFFF_FFFF))"
        case 5: return "[]"
        case 6: return "[" + (0..<rng.below(4)).map { _ in jsonValue(&rng, depth: depth + 1) }.joined(separator: ",") + "]"
        default: return properties(&rng, depth: depth + 1)
        }
    }
}
