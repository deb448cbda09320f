import Foundation
import Hummingbird
import KGDatabase
import KGFormat
import NIOCore

/// `GET /jobs`, `GET /jobs/{id}`, `GET /jobs/{id}/events` (SSE), `DELETE /jobs/{id}`.
/// Readers see their own jobs; admins see every job.
struct JobRoutes {
    let pool: PGPool
    let hub: StatusHub

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/jobs") { request, context -> Response in
            let user = try context.requireUser()
            let status = request.uri.queryParameters.get("status")
            if let status, JobStatus(rawValue: status) == nil {
                throw APIError.badRequest(
                    "unknown status \"\(status)\"", detail: "one of: " + JobStatus.allCases.map(\.rawValue).joined(separator: ", "))
            }
            // `id_prefix`: the jobs whose id starts with it (the CLI resolves a short id with it).
            let prefix = request.uri.queryParameters.get("id_prefix").map { $0.lowercased() }
            if let prefix, prefix.isEmpty || prefix.count > 36 || !prefix.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                throw APIError.badRequest("id_prefix must be the start of a job id: hex digits and dashes")
            }
            let owner = user.isAdmin ? nil : user.username
            let jobs = try await pool.run { db in try JobStore(db).listJSON(username: owner, status: status, idPrefix: prefix) }
            return JSON.response("{\"jobs\":[" + jobs.joined(separator: ",") + "]}")
        }
        router.get("/jobs/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            return JSON.response(try await job(id, context))
        }
        router.delete("/jobs/:id") { _, context -> Response in
            let id = try context.parameters.require("id")
            _ = try await job(id, context)
            let user = try context.requireUser()
            let cancelled = try await pool.run { db in
                try JobStore(db).cancel(jobID: id, reason: "cancelled by \(user.username)")
            }
            guard cancelled else {
                // The row is the outcome: a job that changed the graph was marked completed in its commit.
                let status = try await pool.run { db in try JobStore(db).state(jobID: id)?.status }
                if status == "completed" {
                    throw APIError(
                        .conflict, "the job has already completed: its changes are committed; nothing was undone",
                        detail: "only queued or running jobs can be cancelled")
                }
                throw APIError(
                    .conflict, "the job has already finished (\(status ?? "ended")); nothing was changed by this cancel",
                    detail: "only queued or running jobs can be cancelled")
            }
            return JSON.response(try await job(id, context))
        }
        router.get("/jobs/:id/events") { _, context -> Response in
            let id = try context.parameters.require("id")
            let first = try await job(id, context)
            let events = hub.subscribe(jobID: id)
            let pool = self.pool
            return Response(
                status: .ok,
                headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    try await SSEStream(jobID: id, pool: pool).run(first: first, events: events, writer: &writer)
                })
        }
    }

    /// The job's JSON if the caller may see it, else 404 (no hint that it exists).
    private func job(_ id: String, _ context: GatewayRequestContext) async throws -> String {
        let user = try context.requireUser()
        let owner = user.isAdmin ? nil : user.username
        guard let json = try await pool.run({ db in try JobStore(db).json(jobID: id, visibleTo: owner) }) else {
            throw APIError.notFound("job \(id)")
        }
        return json
    }
}
