/// Checks of the live graph after a risky operation (step 3 of the checkpoint
/// pattern). Foreign keys already guard every reference between tables; these
/// cover what they cannot.
enum GraphIntegritySQL {
    typealias Check = RestoreSQL.Check

    /// Every relationship's type is in the vocabulary (no foreign key says so).
    static let vocabularyCoversTypes = Check(
        message: "relationships use types missing from the vocabulary",
        sql: """
            SELECT DISTINCT relationship_type FROM kg.relationships r
            WHERE NOT EXISTS (SELECT 1 FROM kg.vocabulary v WHERE v.relationship_type = r.relationship_type) LIMIT 5
            """)

    static let checks: [Check] = [
        vocabularyCoversTypes,
        Check(
            message: "sources name ontologies that do not exist",
            sql: """
                SELECT DISTINCT document FROM kg.sources s
                WHERE NOT EXISTS (SELECT 1 FROM kg.ontologies o WHERE o.name = s.document) LIMIT 5
                """),
    ]
}
