/// The SQL of prune and ontology delete: per kind of row, a count and a batched
/// delete (`LIMIT` as the last bound parameter). The ontology's name is always
/// a bound parameter (`$1`).
enum GraphSurgerySQL {
    struct Step {
        /// The result key (`instances`, `relationships`, …).
        let kind: String
        /// `SELECT count(*) AS n …`
        let count: String
        /// `DELETE … LIMIT $k`, `$k` the batch size.
        let delete: String
        /// Whether `$1` is the ontology's name.
        let bound: Bool
    }

    /// Instances that evidence no concept.
    static let orphanInstances =
        "SELECT instance_id FROM kg.instances i WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.instance_id = i.instance_id)"
    /// Concepts that no instance (no source) mentions.
    static let unmentionedConcepts =
        "SELECT concept_id FROM kg.concepts c WHERE NOT EXISTS (SELECT 1 FROM kg.evidence e WHERE e.concept_id = c.concept_id)"

    static let prune: [Step] = [
        Step(
            kind: "instances", count: "SELECT count(*) AS n FROM (\(orphanInstances)) x",
            delete: "DELETE FROM kg.instances WHERE instance_id IN (\(orphanInstances) LIMIT $1::int)", bound: false),
        Step(
            kind: "relationships",
            count: """
                SELECT count(*) AS n FROM kg.relationships
                WHERE from_concept_id IN (\(unmentionedConcepts)) OR to_concept_id IN (\(unmentionedConcepts))
                """,
            delete: """
                DELETE FROM kg.relationships WHERE relationship_id IN (SELECT relationship_id FROM kg.relationships
                    WHERE from_concept_id IN (\(unmentionedConcepts)) OR to_concept_id IN (\(unmentionedConcepts)) LIMIT $1::int)
                """, bound: false),
        Step(
            kind: "concepts", count: "SELECT count(*) AS n FROM (\(unmentionedConcepts)) x",
            delete: "DELETE FROM kg.concepts WHERE concept_id IN (\(unmentionedConcepts) LIMIT $1::int)", bound: false),
    ]

    /// The concepts that only ontology `$1` mentions, into a session temp table
    /// (it outlives the batches' transactions; dropped at the end).
    static let markDoomedConcepts = """
        CREATE TEMP TABLE doomed_concepts AS
        SELECT DISTINCT e.concept_id FROM kg.evidence e
        JOIN kg.instances i ON i.instance_id = e.instance_id JOIN kg.sources s ON s.source_id = i.source_id
        WHERE s.document = $1
          AND NOT EXISTS (SELECT 1 FROM kg.evidence e2 JOIN kg.instances i2 ON i2.instance_id = e2.instance_id
                          JOIN kg.sources s2 ON s2.source_id = i2.source_id
                          WHERE e2.concept_id = e.concept_id AND s2.document <> $1)
        """

    static let ontologyInstances = "SELECT i.instance_id FROM kg.instances i JOIN kg.sources s ON s.source_id = i.source_id WHERE s.document = $1"
    static let doomedEdges = """
        SELECT relationship_id FROM kg.relationships
        WHERE from_concept_id IN (SELECT concept_id FROM doomed_concepts) OR to_concept_id IN (SELECT concept_id FROM doomed_concepts)
        """

    static let ontologyDelete: [Step] = [
        Step(
            kind: "relationships", count: "SELECT count(*) AS n FROM (\(doomedEdges)) x",
            delete: "DELETE FROM kg.relationships WHERE relationship_id IN (\(doomedEdges) LIMIT $1::int)", bound: false),
        Step(
            kind: "instances", count: "SELECT count(*) AS n FROM (\(ontologyInstances)) x",
            delete: "DELETE FROM kg.instances WHERE instance_id IN (\(ontologyInstances) LIMIT $2::int)", bound: true),
        Step(
            kind: "sources", count: "SELECT count(*) AS n FROM kg.sources WHERE document = $1",
            delete: "DELETE FROM kg.sources WHERE source_id IN (SELECT source_id FROM kg.sources WHERE document = $1 LIMIT $2::int)",
            bound: true),
        Step(
            kind: "concepts", count: "SELECT count(*) AS n FROM kg.concepts WHERE concept_id IN (SELECT concept_id FROM doomed_concepts)",
            delete: """
                DELETE FROM kg.concepts WHERE concept_id IN (SELECT c.concept_id FROM kg.concepts c
                    WHERE c.concept_id IN (SELECT concept_id FROM doomed_concepts) LIMIT $1::int)
                """, bound: false),
        Step(
            kind: "ontologies", count: "SELECT count(*) AS n FROM kg.ontologies WHERE name = $1",
            delete: "DELETE FROM kg.ontologies WHERE name IN (SELECT name FROM kg.ontologies WHERE name = $1 LIMIT $2::int)",
            bound: true),
    ]
}
