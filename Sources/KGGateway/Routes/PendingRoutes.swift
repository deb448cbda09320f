import Foundation
import Hummingbird
import KGDatabase

/// `GET /admin/pending`: what `--external-deps defer` kept aside and is still
/// waiting for its concepts. Admin role only.
///
/// `{"instances": 3, "relationships": 5, "missing_concepts": [{"concept_id", "instances", "relationships"}, …]}`
/// (the 50 concepts most waited for).
struct PendingRoutes {
    let pool: PGPool

    func register(on router: Router<GatewayRequestContext>) {
        // Every missing concept id (for `kg admin stitch --backup FILE`, which reads only those from FILE).
        router.get("/admin/pending/concepts") { _, context -> Response in
            _ = try context.requireAdmin()
            let ids = try await pool.run { db in try db.query(PendingQueries.waitingIDs).first("ids") }
            return JSON.response("{\"concept_ids\":\(ids ?? "[]")}")
        }
        router.get("/admin/pending") { _, context -> Response in
            _ = try context.requireAdmin()
            let (totals, concepts) = try await pool.run { db -> (PGResult, [String]) in
                (try db.query(PendingQueries.waitingTotals), try db.query(PendingQueries.waitingByConcept).rows.compactMap { $0[0] })
            }
            let instances = totals.first("instances", as: Int.self) ?? 0, relationships = totals.first("relationships", as: Int.self) ?? 0
            return JSON.response(
                "{\"instances\":\(instances),\"relationships\":\(relationships),"
                    + "\"missing_concepts\":[\(concepts.joined(separator: ","))]}")
        }
    }
}

/// The gateway's read-only view of `kg_api.pending_links`.
enum PendingQueries {
    static let waitingIDs = """
        SELECT coalesce(json_agg(DISTINCT m ORDER BY m), '[]')::text AS ids
        FROM kg_api.pending_links, unnest(missing) AS m WHERE connected_by IS NULL
        """
    static let waitingTotals = """
        SELECT count(*) FILTER (WHERE kind = 'instance') AS instances, count(*) FILTER (WHERE kind = 'relationship') AS relationships
        FROM kg_api.pending_links WHERE connected_by IS NULL
        """
    static let waitingByConcept = """
        SELECT json_build_object('concept_id', m, 'instances', count(*) FILTER (WHERE kind = 'instance'),
                                 'relationships', count(*) FILTER (WHERE kind = 'relationship'))::text
        FROM kg_api.pending_links, unnest(missing) AS m WHERE connected_by IS NULL
        GROUP BY m ORDER BY count(*) DESC, m LIMIT 50
        """
}
