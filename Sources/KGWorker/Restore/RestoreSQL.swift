import KGFormat

/// The SQL of a restore: staging tables (temporary, dropped at commit), the
/// checks inside the database, and the apply statements for each mode.
enum RestoreSQL {
    /// One key for "a risky graph operation is running": restores take it for
    /// their whole transaction, so two never interleave; backups never take it.
    static let graphWriteLockKey = "7420190002"

    static let createStaging = """
        CREATE TEMP TABLE stage_vocabulary (ord bigint, relationship_type text, description text, category text,
            added_by text, added_at timestamptz, usage_count integer, is_active boolean, is_builtin boolean,
            synonyms varchar[], deprecation_reason text, embedding_model text, embedding_generated_at timestamptz,
            embedding double precision[], direction_semantics text) ON COMMIT DROP;
        CREATE TEMP TABLE stage_concepts (ord bigint, concept_id text, label text, description text,
            search_terms text[], embedding double precision[], created_at timestamptz) ON COMMIT DROP;
        CREATE TEMP TABLE stage_sources (ord bigint, source_id text, document text, paragraph integer, full_text text,
            file_path text, content_type text, garage_key text, storage_key text) ON COMMIT DROP;
        CREATE TEMP TABLE stage_instances (ord bigint, instance_id text, quote text, concept_id text, source_id text) ON COMMIT DROP;
        CREATE TEMP TABLE stage_relationships (ord bigint, from_id text, to_id text, type text, properties jsonb) ON COMMIT DROP;
        CREATE TEMP TABLE stage_ontologies (ord bigint, name text, created_at timestamptz) ON COMMIT DROP;
        """

    /// The staging indexes, one statement each (section, column, SQL): an id too long to index
    /// fails in its own statement, which names the field.
    static let indexStaging: [(section: String, column: String, sql: String)] = [
        ("concepts", "concept_id", "CREATE INDEX ON stage_concepts (concept_id)"),
        ("sources", "source_id", "CREATE INDEX ON stage_sources (source_id)"),
        ("instances", "instance_id", "CREATE INDEX ON stage_instances (instance_id)"),
    ]

    static let analyzeStaging = """
        ANALYZE stage_vocabulary; ANALYZE stage_concepts; ANALYZE stage_sources; ANALYZE stage_instances; ANALYZE stage_relationships;
        """

    static func copy(_ section: String) -> String {
        "COPY stage_\(section) (ord, \(StagingRecordEncoder.columns[section]!.joined(separator: ", "))) FROM STDIN"
    }

    /// A check: a query returning up to a few offending values; a non-empty answer is an error.
    struct Check {
        let message: String
        let sql: String
    }

    /// Checks on the staged data before anything live is touched (ids unique, one quote per instance).
    static let stagingChecks: [Check] = [
        Check(
            message: "concept ids appear more than once",
            sql: """
                SELECT concept_id FROM stage_concepts GROUP BY concept_id HAVING count(*) > 1 ORDER BY 1 LIMIT 5
                """),
        Check(
            message: "source ids appear more than once",
            sql: """
                SELECT source_id FROM stage_sources GROUP BY source_id HAVING count(*) > 1 ORDER BY 1 LIMIT 5
                """),
        Check(
            message: "relationship types appear more than once in the vocabulary",
            sql: """
                SELECT relationship_type FROM stage_vocabulary GROUP BY 1 HAVING count(*) > 1 ORDER BY 1 LIMIT 5
                """),
        Check(
            message: "instances carry different quotes or sources under one instance_id",
            sql: """
                SELECT instance_id FROM stage_instances GROUP BY instance_id
                HAVING count(DISTINCT (coalesce(quote, ''), source_id)) > 1 ORDER BY 1 LIMIT 5
                """),
        Check(
            message: "ontologies appear more than once",
            sql: """
                SELECT name FROM stage_ontologies GROUP BY name HAVING count(*) > 1 ORDER BY 1 LIMIT 5
                """),
        Check(
            message: "instances have no quote",
            sql: """
                SELECT DISTINCT instance_id FROM stage_instances WHERE quote IS NULL ORDER BY 1 LIMIT 5
                """),
    ]

    /// Instances naming a source that is neither staged nor (merge) live.
    static func missingSources(merge: Bool) -> String {
        """
        SELECT DISTINCT si.instance_id || ' → ' || si.source_id FROM stage_instances si
        WHERE NOT EXISTS (SELECT 1 FROM stage_sources ss WHERE ss.source_id = si.source_id)
        \(merge ? "AND NOT EXISTS (SELECT 1 FROM kg.sources s WHERE s.source_id = si.source_id)" : "")
        ORDER BY 1 LIMIT 5
        """
    }

    /// `concept` is staged or (merge) live. With `direct`, a replace loaded the
    /// file's concepts straight into `kg.concepts`, which then holds exactly them.
    /// NULL (an instance that evidences no concept) names nothing, so nothing is missing.
    static func conceptKnown(_ column: String, merge: Bool, direct: Bool = false) -> String {
        if direct { return "(\(column) IS NULL OR EXISTS (SELECT 1 FROM kg.concepts c WHERE c.concept_id = \(column)))" }
        return "(\(column) IS NULL OR EXISTS (SELECT 1 FROM stage_concepts sc WHERE sc.concept_id = \(column))"
            + (merge ? " OR EXISTS (SELECT 1 FROM kg.concepts c WHERE c.concept_id = \(column)))" : ")")
    }

    /// `NOT conceptKnown(column)`, written as conjuncts of `NOT EXISTS`: as a whole
    /// `WHERE` clause PostgreSQL runs it as anti-joins (one pass over each table),
    /// where `NOT (… OR EXISTS …)` probes the concepts' index once per row (at 1 M
    /// concepts and 2 M relationships: 32 s against 3.6 s, docs/BENCHMARKS.md).
    static func conceptMissing(_ column: String, merge: Bool, direct: Bool = false) -> String {
        if direct { return "(\(column) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM kg.concepts c WHERE c.concept_id = \(column)))" }
        return "(\(column) IS NOT NULL AND NOT EXISTS (SELECT 1 FROM stage_concepts sc WHERE sc.concept_id = \(column))"
            + (merge ? " AND NOT EXISTS (SELECT 1 FROM kg.concepts c WHERE c.concept_id = \(column)))" : ")")
    }

    static func danglingInstances(merge: Bool, direct: Bool = false) -> String {
        "SELECT count(*) AS n, count(DISTINCT concept_id) AS c FROM stage_instances si WHERE \(conceptMissing("si.concept_id", merge: merge, direct: direct))"
    }

    /// The `ord` of each staged relationship with an end that names no known concept: one
    /// anti-join per end (an `OR` of the two would probe per row). `ord` is the record's
    /// position in its section, one row per relationship.
    static func danglingRelationshipOrds(merge: Bool, direct: Bool = false) -> String {
        """
        SELECT sr.ord FROM stage_relationships sr WHERE \(conceptMissing("sr.from_id", merge: merge, direct: direct))
        UNION
        SELECT sr.ord FROM stage_relationships sr WHERE \(conceptMissing("sr.to_id", merge: merge, direct: direct))
        """
    }

    static func danglingRelationships(merge: Bool, direct: Bool = false) -> String {
        "SELECT count(*) AS n FROM (\(danglingRelationshipOrds(merge: merge, direct: direct))) d"
    }

    static func pruneInstances(merge: Bool, direct: Bool = false) -> String {
        "DELETE FROM stage_instances si WHERE \(conceptMissing("si.concept_id", merge: merge, direct: direct))"
    }

    static func pruneRelationships(merge: Bool, direct: Bool = false) -> String {
        "DELETE FROM stage_relationships WHERE ord IN (\(danglingRelationshipOrds(merge: merge, direct: direct)))"
    }

    /// The restore transaction's `work_mem` (``RestoreJob``).
    static let workMem = "64MB"

    // MARK: Replace mode: delete what is live, insert what is staged.

    /// A replace loads concepts (most of a backup's bytes: the embeddings) straight
    /// into `kg.concepts` instead of through staging, so PostgreSQL writes them once.
    /// The live graph is snapshotted (ids and edges only) and emptied first, inside
    /// the restore's transaction; the snapshot gives the removal counts. DELETE, not
    /// TRUNCATE: TRUNCATE is not MVCC-safe, and a concurrent backup's snapshot must
    /// keep seeing the old rows until the restore commits.
    static let snapshotAndEmptyLive = """
        CREATE TEMP TABLE old_concepts ON COMMIT DROP AS SELECT concept_id FROM kg.concepts;
        CREATE TEMP TABLE old_sources ON COMMIT DROP AS SELECT source_id FROM kg.sources;
        CREATE TEMP TABLE old_evidence ON COMMIT DROP AS SELECT instance_id, concept_id FROM kg.evidence;
        CREATE TEMP TABLE old_relationships ON COMMIT DROP AS
            SELECT from_concept_id, to_concept_id, relationship_type, properties FROM kg.relationships;
        DELETE FROM kg.relationships; DELETE FROM kg.evidence; DELETE FROM kg.instances;
        DELETE FROM kg.sources; DELETE FROM kg.ontologies; DELETE FROM kg.concepts;
        """

    /// Concepts straight into the live table, in binary (see `ConceptBinaryEncoder`); `created_at` follows.
    static let copyConceptsDirect =
        "COPY kg.concepts (\(ConceptBinaryEncoder.columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"

    /// The concepts' `created_at` texts, parsed by PostgreSQL after the binary COPY.
    static let createConceptCreatedAt = """
        DROP TABLE IF EXISTS pg_temp.stage_concept_created_at;
        CREATE TEMP TABLE stage_concept_created_at (concept_id text, created_at text) ON COMMIT DROP
        """
    static let copyConceptCreatedAt = "COPY stage_concept_created_at (concept_id, created_at) FROM STDIN"
    static let applyConceptCreatedAt = """
        UPDATE kg.concepts c SET created_at = s.created_at::timestamptz
        FROM stage_concept_created_at s WHERE c.concept_id = s.concept_id
        """

    /// What a replace removes for good: live rows the backup does not hold
    /// (edges compared as a multiset, custom types only when the file has a vocabulary).
    static func replaceRemovals(fileHasVocabulary: Bool) -> String {
        """
        SELECT
          (SELECT count(*) FROM old_concepts c
            WHERE NOT EXISTS (SELECT 1 FROM kg.concepts s WHERE s.concept_id = c.concept_id)) AS concepts,
          (SELECT count(*) FROM old_sources x
            WHERE NOT EXISTS (SELECT 1 FROM stage_sources s WHERE s.source_id = x.source_id)) AS sources,
          (SELECT count(*) FROM old_evidence e
            WHERE NOT EXISTS (SELECT 1 FROM stage_instances s WHERE s.instance_id = e.instance_id AND s.concept_id = e.concept_id)) AS instances,
          (SELECT count(*) FROM (
              SELECT from_concept_id, to_concept_id, relationship_type, properties,
                     row_number() OVER (PARTITION BY from_concept_id, to_concept_id, relationship_type, properties) AS n
              FROM old_relationships) l
            WHERE NOT EXISTS (SELECT 1 FROM (
              SELECT from_id, to_id, type, coalesce(properties, '{}') AS p,
                     row_number() OVER (PARTITION BY from_id, to_id, type, coalesce(properties, '{}')) AS n
              FROM stage_relationships) s
              WHERE s.from_id = l.from_concept_id AND s.to_id = l.to_concept_id AND s.type = l.relationship_type
                AND s.p = l.properties AND s.n = l.n)) AS relationships,
          \(fileHasVocabulary ? """
            (SELECT count(*) FROM kg.vocabulary v WHERE NOT v.is_builtin
              AND NOT EXISTS (SELECT 1 FROM stage_vocabulary s WHERE s.relationship_type = v.relationship_type))
            """ : "0") AS vocabulary
        """
    }

    // MARK: Apply, per stage. `merge` upserts by id; replace inserts into emptied tables.

    static func vocabulary(merge: Bool, replaceAll: Bool) -> [String] {
        var statements: [String] = []
        // Built-in types belong to the schema, not to the data: a replace keeps
        // those the file does not list (and updates those it does).
        if replaceAll { statements.append("DELETE FROM kg.vocabulary WHERE NOT is_builtin") }
        statements.append(
            """
            INSERT INTO kg.vocabulary (relationship_type, description, category, added_by, added_at, usage_count,
                is_active, is_builtin, synonyms, deprecation_reason, embedding_model, embedding_generated_at,
                embedding, direction_semantics)
            SELECT relationship_type, description, category, added_by, added_at, coalesce(usage_count, 0),
                coalesce(is_active, true), false, synonyms, deprecation_reason, embedding_model,
                embedding_generated_at, embedding, direction_semantics
            FROM stage_vocabulary ORDER BY ord
            -- Built-in status belongs to the schema (the seeded rows), never to a file:
            -- new types are custom, and an existing row keeps its status.
            ON CONFLICT (relationship_type) DO UPDATE SET description = EXCLUDED.description,
                category = EXCLUDED.category, added_by = EXCLUDED.added_by, added_at = EXCLUDED.added_at,
                usage_count = EXCLUDED.usage_count, is_active = EXCLUDED.is_active,
                synonyms = EXCLUDED.synonyms, deprecation_reason = EXCLUDED.deprecation_reason,
                embedding_model = EXCLUDED.embedding_model, embedding_generated_at = EXCLUDED.embedding_generated_at,
                embedding = EXCLUDED.embedding, direction_semantics = EXCLUDED.direction_semantics
            RETURNING (xmax = 0) AS inserted
            """)
        return statements
    }

    /// `statement` (an INSERT … RETURNING (xmax = 0) AS inserted) counted inside the database:
    /// one row of two counts instead of a row per record in the worker's memory.
    static func counted(_ statement: String) -> String {
        """
        WITH written AS (\(statement))
        SELECT count(*) FILTER (WHERE inserted) AS inserted, count(*) FILTER (WHERE NOT inserted) AS updated FROM written
        """
    }

    /// Relationship types in use that the vocabulary lacks: added as custom types so the graph stays whole.
    static let addMissingTypes = """
        INSERT INTO kg.vocabulary (relationship_type, description, category, added_by, added_at, is_builtin)
        SELECT DISTINCT sr.type, 'added by a restore: the backup used this type without defining it', 'custom',
               'kg-restore', now(), false
        FROM stage_relationships sr
        WHERE NOT EXISTS (SELECT 1 FROM kg.vocabulary v WHERE v.relationship_type = sr.type)
        RETURNING relationship_type
        """

    static let concepts = """
        INSERT INTO kg.concepts (concept_id, label, description, search_terms, embedding, created_at)
        SELECT concept_id, label, description, coalesce(search_terms, '{}'), coalesce(embedding, '{}'), created_at
        FROM stage_concepts ORDER BY ord
        ON CONFLICT (concept_id) DO UPDATE SET label = EXCLUDED.label,
            description = coalesce(EXCLUDED.description, kg.concepts.description),
            search_terms = EXCLUDED.search_terms, embedding = EXCLUDED.embedding,
            created_at = coalesce(EXCLUDED.created_at, kg.concepts.created_at)
        RETURNING (xmax = 0) AS inserted
        """

    /// The file's ontology list (kg's files: with their creation times, sources or not;
    /// a merge keeps an existing row as it is), then the ontologies its sources name.
    static let ontologies = [
        """
        INSERT INTO kg.ontologies (name, created_at) SELECT name, coalesce(created_at, now()) FROM stage_ontologies
        ORDER BY ord ON CONFLICT DO NOTHING
        """,
        "INSERT INTO kg.ontologies (name) SELECT DISTINCT document FROM stage_sources ON CONFLICT DO NOTHING",
    ]

    static let sources = """
        INSERT INTO kg.sources (source_id, document, paragraph, full_text, file_path, content_type, garage_key, storage_key)
        SELECT source_id, document, coalesce(paragraph, 0), coalesce(full_text, ''), file_path, content_type, garage_key, storage_key
        FROM stage_sources ORDER BY ord
        ON CONFLICT (source_id) DO UPDATE SET document = EXCLUDED.document, paragraph = EXCLUDED.paragraph,
            full_text = EXCLUDED.full_text, file_path = EXCLUDED.file_path, content_type = EXCLUDED.content_type,
            garage_key = EXCLUDED.garage_key, storage_key = EXCLUDED.storage_key
        RETURNING (xmax = 0) AS inserted
        """

    /// The instances' rows, one per id (the checker made the file's rows of one id agree).
    /// A replace emptied `kg.instances` and `kg.evidence` in this transaction, so it inserts
    /// without `ON CONFLICT`'s speculative insertion; a merge updates what is there.
    static func instances(merge: Bool) -> String {
        """
        INSERT INTO kg.instances (instance_id, quote, source_id)
        SELECT DISTINCT ON (instance_id) instance_id, quote, source_id FROM stage_instances ORDER BY instance_id, ord
        \(merge ? "ON CONFLICT (instance_id) DO UPDATE SET quote = EXCLUDED.quote, source_id = EXCLUDED.source_id" : "")
        RETURNING (xmax = 0) AS inserted
        """
    }

    /// The evidence links, in key order (its primary key's index fills page by page:
    /// at 1 M concepts 71 s against 93 s unordered with `ON CONFLICT`).
    static func evidence(merge: Bool) -> String {
        """
        INSERT INTO kg.evidence (instance_id, concept_id)
        SELECT DISTINCT instance_id, concept_id FROM stage_instances WHERE concept_id IS NOT NULL ORDER BY 1, 2
        \(merge ? "ON CONFLICT DO NOTHING" : "")
        """
    }

    /// Replace: every staged edge, in file order (duplicates between one pair kept).
    static let relationshipsInsertAll = """
        INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type, properties)
        SELECT from_id, to_id, type, coalesce(properties, '{}') FROM stage_relationships ORDER BY ord
        """

    /// Merge: edges the graph lacks, counting multiplicity (a file with two identical
    /// edges and a graph with one adds one).
    static let relationshipsMerge = """
        WITH staged AS (
            SELECT from_id, to_id, type, coalesce(properties, '{}') AS properties, ord,
                   row_number() OVER (PARTITION BY from_id, to_id, type, coalesce(properties, '{}') ORDER BY ord) AS n
            FROM stage_relationships),
        live AS (
            SELECT from_concept_id, to_concept_id, relationship_type, properties, count(*) AS n
            FROM kg.relationships r
            WHERE EXISTS (SELECT 1 FROM stage_relationships s WHERE s.from_id = r.from_concept_id)
            GROUP BY 1, 2, 3, 4)
        INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type, properties)
        SELECT s.from_id, s.to_id, s.type, s.properties FROM staged s
        LEFT JOIN live l ON l.from_concept_id = s.from_id AND l.to_concept_id = s.to_id
             AND l.relationship_type = s.type AND l.properties = s.properties
        WHERE s.n > coalesce(l.n, 0)
        ORDER BY s.ord
        """

    // MARK: Verification inside the transaction, before commit.

    /// Checks on the live graph after applying; each returns offending examples.
    static func postChecks(replace: Bool, direct: Bool = false) -> [Check] {
        var checks = [
            GraphIntegritySQL.vocabularyCoversTypes,
            Check(
                message: "restored instances evidence no concept",
                sql: """
                    SELECT i.instance_id FROM kg.instances i
                    WHERE i.instance_id IN (SELECT instance_id FROM stage_instances WHERE concept_id IS NOT NULL)
                    AND NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.instance_id = i.instance_id) LIMIT 5
                    """),
            Check(
                message: "staged concepts are missing from the graph after the restore",
                sql: """
                    SELECT concept_id FROM stage_concepts sc
                    WHERE NOT EXISTS (SELECT 1 FROM kg.concepts c WHERE c.concept_id = sc.concept_id) LIMIT 5
                    """),
        ]
        if direct {
            // The concepts are in kg.concepts, not in staging.
            checks.removeAll { $0.message.hasPrefix("staged concepts") }
        }
        if replace {
            checks.append(
                Check(
                    message: "the graph's counts differ from the backup's after a replace",
                    sql: """
                        SELECT 'concepts ' || a || ' vs ' || b FROM (SELECT (SELECT count(*) FROM kg.concepts) a,
                            (SELECT count(DISTINCT concept_id) FROM stage_concepts) b) x WHERE a <> b AND \(!direct)
                        UNION ALL
                        SELECT 'sources ' || a || ' vs ' || b FROM (SELECT (SELECT count(*) FROM kg.sources) a,
                            (SELECT count(DISTINCT source_id) FROM stage_sources) b) x WHERE a <> b
                        UNION ALL
                        SELECT 'evidence ' || a || ' vs ' || b FROM (SELECT (SELECT count(*) FROM kg.evidence) a,
                            (SELECT count(*) FROM (SELECT DISTINCT instance_id, concept_id FROM stage_instances
                            WHERE concept_id IS NOT NULL) d) b) x WHERE a <> b
                        UNION ALL
                        SELECT 'instances ' || a || ' vs ' || b FROM (SELECT (SELECT count(*) FROM kg.instances) a,
                            (SELECT count(DISTINCT instance_id) FROM stage_instances) b) x WHERE a <> b
                        UNION ALL
                        SELECT 'relationships ' || a || ' vs ' || b FROM (SELECT (SELECT count(*) FROM kg.relationships) a,
                            (SELECT count(*) FROM stage_relationships) b) x WHERE a <> b
                        """))
        }
        return checks
    }
}
