/// `--external-deps defer`: the SQL that keeps dangling instance links and
/// relationships aside in `kg_api.pending_links`, connects them once their
/// concepts exist, and undoes a job's doings there (a rollback to a checkpoint).
/// `$1` is always the job id.
enum PendingSQL {
    static func deferInstances(merge: Bool, direct: Bool) -> String {
        """
        INSERT INTO kg_api.pending_links (kind, instance_id, quote, source_id, concept_id, missing, created_by)
        SELECT 'instance', instance_id, quote, source_id, concept_id, ARRAY[concept_id], $1::uuid FROM stage_instances si
        WHERE \(RestoreSQL.conceptMissing("si.concept_id", merge: merge, direct: direct))
        """
    }

    static func deferRelationships(merge: Bool, direct: Bool) -> String {
        let from = RestoreSQL.conceptKnown("sr.from_id", merge: merge, direct: direct)
        let to = RestoreSQL.conceptKnown("sr.to_id", merge: merge, direct: direct)
        return """
            INSERT INTO kg_api.pending_links (kind, from_id, to_id, relationship_type, properties, missing, created_by)
            SELECT 'relationship', from_id, to_id, type, coalesce(properties, '{}'),
                   array_remove(ARRAY[CASE WHEN NOT \(from) THEN from_id END, CASE WHEN NOT \(to) THEN to_id END], NULL), $1::uuid
            FROM stage_relationships sr WHERE sr.ord IN (\(RestoreSQL.danglingRelationshipOrds(merge: merge, direct: direct)))
            ORDER BY ord
            """
    }

    static let instanceReady = """
        p.kind = 'instance' AND p.connected_by IS NULL
        AND EXISTS (SELECT 1 FROM kg.concepts c WHERE c.concept_id = p.concept_id)
        AND EXISTS (SELECT 1 FROM kg.sources s WHERE s.source_id = p.source_id)
        """

    /// Connects waiting instance links whose concept (and source) now exist: three statements, in order
    /// (only the last takes `$1`).
    static let connectInstances = [
        """
        INSERT INTO kg.instances (instance_id, quote, source_id)
        SELECT DISTINCT ON (instance_id) instance_id, quote, source_id FROM kg_api.pending_links p
        WHERE \(instanceReady) ORDER BY instance_id, pending_id
        ON CONFLICT (instance_id) DO NOTHING
        """,
        """
        INSERT INTO kg.evidence (instance_id, concept_id)
        SELECT DISTINCT instance_id, concept_id FROM kg_api.pending_links p WHERE \(instanceReady)
        ON CONFLICT DO NOTHING
        """,
        """
        UPDATE kg_api.pending_links p SET connected_by = $1::uuid, connected_at = now() WHERE \(instanceReady)
        """,
    ]

    static let relationshipReady = """
        p.kind = 'relationship' AND p.connected_by IS NULL
        AND EXISTS (SELECT 1 FROM kg.concepts c WHERE c.concept_id = p.from_id)
        AND EXISTS (SELECT 1 FROM kg.concepts c WHERE c.concept_id = p.to_id)
        """

    /// Connects waiting relationships whose two ends now exist (their types join the vocabulary if
    /// missing; only the second statement takes `$1`).
    static let connectRelationships = [
        """
        INSERT INTO kg.vocabulary (relationship_type, description, category, added_by, added_at, is_builtin)
        SELECT DISTINCT p.relationship_type, 'added by a restore: the backup used this type without defining it', 'custom',
               'kg-restore', now(), false
        FROM kg_api.pending_links p WHERE \(relationshipReady)
          AND NOT EXISTS (SELECT 1 FROM kg.vocabulary v WHERE v.relationship_type = p.relationship_type)
        """,
        """
        WITH ready AS (
            UPDATE kg_api.pending_links p SET connected_by = $1::uuid, connected_at = now() WHERE \(relationshipReady)
            RETURNING pending_id, from_id, to_id, relationship_type, properties)
        INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type, properties)
        SELECT from_id, to_id, relationship_type, properties FROM ready ORDER BY pending_id
        """,
    ]

    /// Undoes what job `$1` did to the pending links (two statements).
    static let undo = [
        "DELETE FROM kg_api.pending_links WHERE created_by = $1::uuid",
        "UPDATE kg_api.pending_links SET connected_by = NULL, connected_at = NULL WHERE connected_by = $1::uuid",
    ]
}
