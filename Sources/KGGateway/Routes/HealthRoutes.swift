import Hummingbird
import KGDatabase

/// `GET /healthz` (the process is alive) and `GET /readyz` (database and broker reachable).
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
            let broker = queue.isReady
            let body = "{\"status\":\"\(database && broker ? "ready" : "not ready")\",\"database\":\(database),\"broker\":\(broker)}"
            return JSON.response(body, status: database && broker ? .ok : .serviceUnavailable)
        }
    }
}
