import KGFormat

/// The SQL that exports each section of a backup. PostgreSQL builds every
/// record's JSON (`json_build_object`), which keeps float8 values exact and
/// escapes text correctly; the worker only joins the records with commas.
///
/// Ontology backups read their scope from the session setting
/// `kg.backup_ontology` (set with a bound parameter), because COPY cannot take
/// parameters and user text is never spliced into SQL.
enum BackupQueries {
    static let ontologyScope = """
        scope_sources AS (
            SELECT source_id FROM kg.sources WHERE document = current_setting('kg.backup_ontology')),
        scope_concepts AS (
            SELECT DISTINCT e.concept_id FROM kg.evidence e JOIN kg.instances i USING (instance_id)
            WHERE i.source_id IN (SELECT source_id FROM scope_sources))
        """

    /// Section names in file order. Vocabulary first: a streaming restore can then
    /// check relationship types as they arrive. `ontologies` (kg's files only) lists
    /// every ontology row with its `created_at`, sources or not, so that a replace
    /// restore gives back ontologies that hold no source (docs/DESIGN.md "Values").
    static let sections = ["vocabulary", "ontologies", "concepts", "sources", "instances", "relationships"]

    static func counts(_ type: BackupType) -> String {
        switch type {
        case .full:
            return """
                SELECT (SELECT count(*) FROM kg.vocabulary) AS vocabulary,
                       (SELECT count(*) FROM kg.ontologies) AS ontologies,
                       (SELECT count(*) FROM kg.concepts) AS concepts,
                       (SELECT count(*) FROM kg.sources) AS sources,
                       (SELECT count(*) FROM kg.instances LEFT JOIN kg.evidence USING (instance_id)) AS instances,
                       (SELECT count(*) FROM kg.relationships) AS relationships
                """
        case .ontology:
            return """
                WITH \(ontologyScope)
                SELECT (SELECT count(*) FROM kg.vocabulary) AS vocabulary,
                       (SELECT count(*) FROM kg.ontologies WHERE name = current_setting('kg.backup_ontology')) AS ontologies,
                       (SELECT count(*) FROM scope_concepts) AS concepts,
                       (SELECT count(*) FROM scope_sources) AS sources,
                       (SELECT count(*) FROM kg.instances i LEFT JOIN kg.evidence e USING (instance_id)
                         WHERE i.source_id IN (SELECT source_id FROM scope_sources)) AS instances,
                       (SELECT count(*) FROM kg.relationships
                         WHERE from_concept_id IN (SELECT concept_id FROM scope_concepts)) AS relationships
                """
        }
    }

    /// Values longer than this many bytes are not put into the record by PostgreSQL
    /// but fetched in pieces by ``LongValueExport`` (a record whose JSON is one COPY
    /// row would otherwise be whole in libpq's buffer, twice, and in the worker).
    static let longValueBytes = 8 << 20

    /// The columns that may hold long text, per section: (table alias, column).
    /// Ids, names and times are held whole everywhere (`RecordValueRules.heldWholeFields`).
    static let longColumns: [String: [String]] = [
        "vocabulary": ["description"], "concepts": ["label", "description"], "sources": ["full_text"], "instances": ["quote"],
    ]
    /// The table whose row a marker's ctid names, per section.
    static let longTables: [String: String] = [
        "vocabulary": "kg.vocabulary", "concepts": "kg.concepts", "sources": "kg.sources", "instances": "kg.instances",
    ]

    /// `column` as JSON, or, when longer than ``longValueBytes``, the marker string
    /// `"\u0000kg-long:<column>:<ctid>"` (PostgreSQL text cannot hold U+0000, so no
    /// real value looks like it).
    private static func long(_ alias: String, _ column: String) -> String {
        """
        CASE WHEN octet_length(\(alias).\(column)) > \(longValueBytes)
            THEN ('"\\u0000kg-long:\(column):' || \(alias).ctid::text || '"')::json ELSE to_json(\(alias).\(column)) END
        """
    }

    /// `~` before a record that holds a marker (so the worker looks for markers only there).
    private static func flag(_ alias: String, _ section: String) -> String {
        let tests = (longColumns[section] ?? []).map { "octet_length(\(alias).\($0)) > \(longValueBytes)" }
        return "(CASE WHEN \(tests.joined(separator: " OR ")) THEN '~' ELSE '' END) || "
    }

    /// Which concepts a piece of a split export holds (``SplitExport``): those from the key in
    /// the session setting `kg.backup_from` on, those below the key in `kg.backup_below`, or
    /// both (settings set with bound parameters, as COPY takes none).
    struct Piece {
        var from: Bool
        var below: Bool
    }

    /// The keys that cut a full backup's concepts into pieces of `$1` concepts each, in the
    /// key's order: every `$1`-th key after the first, from one pass over the key's index.
    static let conceptPieceKeys = """
        SELECT k FROM (SELECT concept_id AS k, row_number() OVER (ORDER BY concept_id) AS n FROM kg.concepts) s
        WHERE n > 1 AND (n - 1) % $1::bigint = 0 ORDER BY k
        """

    /// The export of `section` from a database at `schemaVersion` (the shape of
    /// that version: concepts carry `created_at` from v4 on). `longValues`: long text
    /// comes as markers (see ``long(_:_:)``), for ``LongValueExport`` to fill in.
    /// `piece`: only the concepts of one piece of a split export.
    static func copy(section: String, type: BackupType, schemaVersion: Int, longValues: Bool = false, piece: Piece? = nil) -> String {
        func text(_ alias: String, _ column: String) -> String { longValues ? long(alias, column) : "\(alias).\(column)" }
        func flagged(_ alias: String) -> String { longValues ? flag(alias, section) : "" }
        let scoped = type == .ontology
        let with = scoped ? "WITH \(ontologyScope) " : ""
        let bounds = [
            piece?.from == true ? "concept_id >= current_setting('kg.backup_from')" : nil,
            piece?.below == true ? "concept_id < current_setting('kg.backup_below')" : nil,
        ].compactMap { $0 }
        let query: String
        switch section {
        case "vocabulary":
            query = """
                SELECT \(flagged("v"))json_build_object('relationship_type', relationship_type, 'description', \(text("v", "description")),
                    'category', category, 'added_by', added_by, 'added_at', added_at, 'usage_count', usage_count,
                    'is_active', is_active, 'is_builtin', is_builtin, 'synonyms', synonyms,
                    'deprecation_reason', deprecation_reason, 'embedding_model', embedding_model,
                    'embedding_generated_at', embedding_generated_at, 'embedding', embedding,
                    'direction_semantics', direction_semantics)::text
                FROM kg.vocabulary v ORDER BY relationship_type
                """
        case "ontologies":
            query = """
                SELECT json_build_object('name', name, 'created_at', created_at)::text FROM kg.ontologies
                \(scoped ? "WHERE name = current_setting('kg.backup_ontology')" : "")
                ORDER BY name
                """
        case "concepts":
            query = """
                \(with)SELECT \(flagged("c"))json_build_object('concept_id', concept_id, 'label', \(text("c", "label")),
                    'description', \(text("c", "description")),
                    'search_terms', search_terms, 'embedding', embedding\(schemaVersion >= 4 ? ", 'created_at', created_at" : ""))::text
                FROM kg.concepts c
                \(scoped ? "WHERE concept_id IN (SELECT concept_id FROM scope_concepts)" : "")
                \(bounds.isEmpty ? "" : "WHERE " + bounds.joined(separator: " AND "))
                ORDER BY concept_id
                """
        case "sources":
            // Optional keys appear only when set, as in the platform's files.
            query = """
                \(with)SELECT \(flagged("s"))left(json_build_object('source_id', source_id, 'document', document, 'paragraph', paragraph,
                    'full_text', \(text("s", "full_text")), 'file_path', file_path)::text, -1)
                    || coalesce(', "content_type" : ' || to_json(content_type)::text, '')
                    || coalesce(', "garage_key" : ' || to_json(garage_key)::text, '')
                    || coalesce(', "storage_key" : ' || to_json(storage_key)::text, '')
                    || '}'
                FROM kg.sources s
                \(scoped ? "WHERE source_id IN (SELECT source_id FROM scope_sources)" : "")
                ORDER BY source_id
                """
        case "instances":
            // An instance that evidences no concept is one record with "concept_id": null.
            query = """
                \(with)SELECT \(flagged("i"))json_build_object('instance_id', i.instance_id, 'quote', \(text("i", "quote")),
                    'concept_id', e.concept_id, 'source_id', i.source_id)::text
                FROM kg.instances i LEFT JOIN kg.evidence e USING (instance_id)
                \(scoped ? "WHERE i.source_id IN (SELECT source_id FROM scope_sources)" : "")
                ORDER BY i.instance_id, e.concept_id
                """
        default:  // relationships
            query = """
                \(with)SELECT json_build_object('from', from_concept_id, 'to', to_concept_id,
                    'type', relationship_type, 'properties', properties)::text
                FROM kg.relationships
                \(scoped ? "WHERE from_concept_id IN (SELECT concept_id FROM scope_concepts)" : "")
                ORDER BY relationship_id
                """
        }
        return "COPY (\(query)) TO STDOUT (FORMAT binary)"
    }
}
