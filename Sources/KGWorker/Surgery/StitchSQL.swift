/// The SQL of a stitch. `$1` is the missing concept's id.
enum StitchSQL {
    static let waitingConcepts = """
        SELECT DISTINCT m FROM kg_api.pending_links, unnest(missing) AS m WHERE connected_by IS NULL ORDER BY m
        """
    static let linksWaitingFor = "SELECT count(*) AS n FROM kg_api.pending_links WHERE connected_by IS NULL AND $1 = ANY(missing)"
    static let byID = "SELECT concept_id AS t FROM kg.concepts WHERE concept_id = $1"
    static let byLabel = """
        SELECT min(c.concept_id) AS t FROM stitch_ref r JOIN kg.concepts c ON lower(c.label) = lower(r.label) WHERE r.concept_id = $1
        """
    /// The nearest concept by cosine similarity (same dimensions only), computed by PostgreSQL.
    static let byEmbedding = """
        SELECT c.concept_id AS t, s.sim FROM stitch_ref r
        JOIN kg.concepts c ON cardinality(c.embedding) = cardinality(r.embedding) AND cardinality(r.embedding) > 0
        CROSS JOIN LATERAL (SELECT sum(a * b) / nullif(sqrt(sum(a * a)) * sqrt(sum(b * b)), 0) AS sim
                            FROM unnest(c.embedding, r.embedding) AS t(a, b)) s
        WHERE r.concept_id = $1 AND s.sim IS NOT NULL
        ORDER BY s.sim DESC, c.concept_id LIMIT 1
        """
    static let rewrite = """
        INSERT INTO kg_api.pending_links (kind, instance_id, quote, source_id, concept_id, from_id, to_id, relationship_type,
                                          properties, missing, created_by)
        SELECT kind, instance_id, quote, source_id,
               CASE WHEN concept_id = $1 THEN $2 ELSE concept_id END, CASE WHEN from_id = $1 THEN $2 ELSE from_id END,
               CASE WHEN to_id = $1 THEN $2 ELSE to_id END, relationship_type, properties, array_remove(missing, $1), $3::uuid
        FROM kg_api.pending_links WHERE connected_by IS NULL AND $1 = ANY(missing) ORDER BY pending_id
        """
    static let consume = """
        UPDATE kg_api.pending_links SET connected_by = $2::uuid, connected_at = now() WHERE connected_by IS NULL AND $1 = ANY(missing)
        """
    static let waitingTotals = """
        SELECT count(*) FILTER (WHERE kind = 'instance') AS instances, count(*) FILTER (WHERE kind = 'relationship') AS relationships
        FROM kg_api.pending_links WHERE connected_by IS NULL
        """
}
