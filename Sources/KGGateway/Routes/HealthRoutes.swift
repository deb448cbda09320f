import Hummingbird
import KGDatabase

/// `GET /healthz` (the process is alive) and `GET /readyz` (database and broker reachable, the broker
/// node this gateway publishes through, and whether the broker cluster has a majority).
struct HealthRoutes {
    let pool: PGPool
    let queue: JobQueue

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/healthz") { _, _ -> Response in
            JSON.response("{\"status\":\"ok\"}")
        }
        // The database's schema version, so that clients can say what a restore would do.
        router.get("/schema") { _, _ -> Response in
            let version = try await pool.run { db in try MigrationRunner(connection: db).currentVersion() }
            return JSON.response("{\"schema_version\":\(version)}")
        }
        router.get("/readyz") { _, _ -> Response in
            let database: Bool
            do {
                database = try await pool.run { db in try db.query("SELECT 1 AS ok").first("ok") == "1" }
            } catch {
                database = false
            }
            let state = await queue.brokerState()
            // Connected, and (on a cluster) a majority of the nodes answer: a quorum queue takes jobs.
            let broker = queue.isReady && state.hasMajority
            let ready = database && broker
            var body = "{\"status\":\"\(ready ? "ready" : "not ready")\",\"database\":\(database),\"broker\":\(broker)"
            body += ",\"broker_node\":\(JSON.quoteOrNull(state.publisherNode))"
            body += ",\"broker_nodes_reachable\":\(state.reachable.count),\"broker_nodes\":\(state.nodes.count)"
            body += ",\"broker_majority\":\(state.hasMajority)}"
            return JSON.response(body, status: ready ? .ok : .serviceUnavailable)
        }
    }
}
