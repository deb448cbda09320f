import Foundation
import KGClient
import KGDatabase
import XCTest

extension TestStack {
    /// Uploads `path` to `POST /admin/restore`; returns the status and the JSON answer.
    func uploadRestore(_ path: String, fields: [String: String] = [:], token: String? = nil) throws -> (status: Int, json: [String: Any]) {
        let client = HTTPClient(baseURL: apiURL, token: try token ?? self.token())
        let r = try client.uploadMultipart(
            path: "/admin/restore", fields: fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) },
            fileField: "file", filePath: path, fileName: URL(fileURLWithPath: path).lastPathComponent,
            contentType: "application/json", onProgress: { _, _ in })
        let json = (try? JSONSerialization.jsonObject(with: r.body) as? [String: Any]) ?? [:]
        return (r.status, json)
    }

    /// Polls the job row until it ends; returns the job's API JSON.
    func waitForJob(_ id: String, timeout: Double = 120) throws -> [String: Any] {
        let db = try db()
        defer { db.close() }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try JobStore(db).json(jobID: id),
                let job = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                let status = job["status"] as? String, ["completed", "failed", "cancelled"].contains(status)
            {
                return job
            }
            usleep(100_000)
        }
        throw StackError("job \(id) did not end within \(timeout) s\n\(logs)")
    }

    /// A digest of every graph table's content (ids, text, numbers, edges with multiplicity).
    func graphChecksum() throws -> String {
        let db = try db()
        defer { db.close() }
        return try db.query(
            """
            SELECT md5(
              coalesce((SELECT string_agg(v::text, '|' ORDER BY v::text) FROM kg.vocabulary v), '') ||
              coalesce((SELECT string_agg(c::text, '|' ORDER BY c.concept_id) FROM kg.concepts c), '') ||
              coalesce((SELECT string_agg(s::text, '|' ORDER BY s.source_id) FROM kg.sources s), '') ||
              coalesce((SELECT string_agg(i::text, '|' ORDER BY i.instance_id) FROM kg.instances i), '') ||
              coalesce((SELECT string_agg(e::text, '|' ORDER BY e::text) FROM kg.evidence e), '') ||
              coalesce((SELECT string_agg(x, '|' ORDER BY x) FROM (SELECT from_concept_id || to_concept_id ||
                  relationship_type || properties::text AS x FROM kg.relationships) r), '') ||
              coalesce((SELECT string_agg(o.name, '|' ORDER BY o.name) FROM kg.ontologies o), '')) AS digest
            """
        ).first("digest") ?? ""
    }

    /// Empties the graph (as a fresh database would be, built-in vocabulary aside).
    func wipeGraph() throws {
        let db = try db()
        defer { db.close() }
        try db.execute(
            """
            DELETE FROM kg.relationships; DELETE FROM kg.evidence; DELETE FROM kg.instances; DELETE FROM kg.sources;
            DELETE FROM kg.concepts; DELETE FROM kg.ontologies; DELETE FROM kg.vocabulary WHERE NOT is_builtin;
            """)
    }

    /// Restore jobs queued for a whole upload. A restore that loads an upload as it arrives
    /// (`restore_pipeline_min_bytes`) counts once the gateway accepted the upload, or once it
    /// failed on its own (the upload's end answers with it): before that it cannot change the
    /// graph, and it is cancelled with an upload that is refused or abandoned.
    func jobCount() throws -> Int {
        Int(
            try db().query(
                """
                SELECT count(*) AS n FROM kg_api.jobs WHERE job_type = 'restore'
                  AND NOT (coalesce((params->>'pipelined')::boolean, false) AND NOT coalesce((params->>'upload_accepted')::boolean, false)
                           AND status <> 'failed')
                """
            ).first("n") ?? "-1") ?? -1
    }
}
