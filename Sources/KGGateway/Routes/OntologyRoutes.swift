import Foundation
import Hummingbird
import KGDatabase
import KGFormat

/// `GET /ontologies`: every ontology with what it holds, for `kg ontology list`
/// (any signed-in user: names and counts, no content).
///
/// `{"ontologies": [{"name", "created_at", "sources", "instances", "concepts"}, …]}`, by name;
/// `concepts` counts the concepts its instances evidence.
struct OntologyRoutes {
    let pool: PGPool

    static let listSQL = """
        SELECT coalesce(json_agg(json_build_object(
                   'name', o.name, 'created_at', o.created_at, 'sources', c.sources,
                   'instances', c.instances, 'concepts', c.concepts) ORDER BY o.name), '[]'::json)::text AS list
        FROM kg.ontologies o
        CROSS JOIN LATERAL (
            SELECT count(DISTINCT s.source_id) AS sources, count(DISTINCT i.instance_id) AS instances,
                   count(DISTINCT e.concept_id) AS concepts
            FROM kg.sources s
            LEFT JOIN kg.instances i ON i.source_id = s.source_id
            LEFT JOIN kg.evidence e ON e.instance_id = i.instance_id
            WHERE s.document = o.name) c
        """

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/ontologies") { _, context -> Response in
            _ = try context.requireUser()
            let list = try await pool.run { db in try db.query(Self.listSQL).first("list") }
            return JSON.response("{\"ontologies\":\(list ?? "[]")}")
        }
    }

    /// The 404 for an ontology that does not exist, naming the one the user
    /// probably meant (another case, a typo) and how to list them.
    static func notFound(_ name: String, db: PGConnection) throws -> APIError {
        let names = try db.query("SELECT name FROM kg.ontologies ORDER BY name LIMIT 10000").rows.compactMap { $0[0] }
        if let near = NearestName.find(name, among: names) {
            return APIError(
                .notFound, "ontology \"\(name)\" not found; did you mean \"\(near)\"?",
                detail: "names are case-sensitive; `kg ontology list` shows them")
        }
        return APIError(.notFound, "ontology \"\(name)\" not found", detail: "`kg ontology list` shows them")
    }
}
