import Foundation
import KGClient
import KGDatabase

/// Helpers for the access, audit and limit tests.
extension TestStack {
    /// A raw request with any method, token and body; the response whatever its status.
    func call(
        _ method: String, _ path: String, token: String?, json: String? = nil,
        headers: [String: String] = [:]
    ) throws -> HTTPResponse {
        try HTTPClient(baseURL: apiURL, token: token).request(
            method: method, path: path, json: json.map { Data($0.utf8) },
            headers: headers)
    }

    /// Inserts a finished (or `status`) job row owned by `user`; returns its id.
    func insertJob(user: String, status: String = "completed", type: String = "restore") throws -> String {
        let id = UUID().uuidString.lowercased()
        let db = try db()
        defer { db.close() }
        try JobStore(db).create(jobID: id, type: type, username: user, params: "{}", tempFile: nil)
        if status != "queued" {
            try db.query("UPDATE kg_api.jobs SET status = $2, completed_at = now() WHERE job_id = $1::uuid", [id, status])
        }
        return id
    }

    /// The audit rows, newest first, read straight from the table.
    func auditRows(actor: String? = nil, action: String? = nil) throws -> [[String: String?]] {
        let db = try db()
        defer { db.close() }
        return try db.query(
            """
            SELECT actor, action, target, outcome, remote_address, detail FROM kg_api.audit
            WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR action = $2)
            ORDER BY at DESC, audit_id DESC
            """, [actor, action]
        ).records
    }

    /// Makes a token expire now (as if `token_ttl_hours` had passed).
    func expire(token: String) throws {
        let db = try db()
        defer { db.close() }
        try db.query(
            """
            UPDATE kg_api.tokens SET expires_at = now() - interval '1 minute'
            WHERE token_hash = sha256(convert_to($1, 'UTF8'))
            """, [token])
    }

    /// The JSON object of a response body.
    static func object(_ response: HTTPResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: response.body) as? [String: Any]) ?? [:]
    }

    /// A committed backup fixture (schema v3), restorable without a worker having run.
    static var fixtureBackup: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/full_backup_schema_v3.json").path
    }
}
