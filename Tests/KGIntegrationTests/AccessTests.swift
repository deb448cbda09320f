import Foundation
import KGClient
import KGDatabase
import XCTest

/// Roles, tokens (expiry, revocation by the user and by an admin) and the
/// audit trail, against a real gateway, database and CLI.
final class AccessTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    enum Caller: String, CaseIterable {
        case admin, reader, noToken, expired, revoked
    }

    struct Route {
        let method: String
        /// The path as the gateway registers it (`/jobs/:id`), to match the registrations.
        let template: String
        /// The path requested (parameters filled in); the template when it has none.
        var path: String? = nil
        var body: String? = nil
        /// Expected status for the admin and for the reader; everyone else gets 401.
        let admin: Int
        let reader: Int
        var open = false
        /// The call revokes the token it is made with (`/auth/logout`): admin and reader use a fresh one.
        var consumesToken = false
    }

    /// Every route × admin, reader, no token, an expired token and a revoked token.
    func testEveryRouteRespectsItsRoleBoundary() throws {
        stack = try TestStack(workers: 0)
        try stack.addUser("reader", role: "reader", password: "reader-pw")
        try stack.addUser("carol", role: "reader", password: "carol-pw")
        let tokens: [Caller: String?] = [
            .admin: try stack.token(),
            .reader: try stack.token("reader", password: "reader-pw"),
            .noToken: nil,
            .expired: try stack.token(),
            .revoked: try stack.token("reader", password: "reader-pw"),
        ]
        try stack.expire(token: tokens[.expired]!!)
        // The user revokes their own token (what `kg logout` does).
        let logout = try stack.call("POST", "/auth/logout", token: tokens[.revoked]!)
        XCTAssertEqual(logout.status, 200)

        let adminJob = try stack.insertJob(user: "admin")
        let readerJob = try stack.insertJob(user: "reader")
        let backupJSON = #"{"backup_type": "bogus"}"#
        // A body each risky operation refuses (400) after the role check, so that nothing is queued.
        let refusedOptions = #"{"checkpoint": false, "keep_checkpoint": true}"#
        let routes: [Route] = [
            Route(method: "GET", template: "/healthz", admin: 200, reader: 200, open: true),
            Route(method: "GET", template: "/readyz", admin: 200, reader: 200, open: true),
            Route(method: "GET", template: "/schema", admin: 200, reader: 200, open: true),
            Route(method: "GET", template: "/metrics", admin: 200, reader: 200, open: true),
            // The login endpoint is open; an empty object is not a login.
            Route(method: "POST", template: "/auth/token", body: "{}", admin: 400, reader: 400, open: true),
            Route(method: "GET", template: "/auth/whoami", admin: 200, reader: 200),
            Route(method: "POST", template: "/auth/logout", admin: 200, reader: 200, consumesToken: true),
            // 400 shows the admin got past authentication and the role check to the request's own checks.
            Route(method: "POST", template: "/admin/backup", body: backupJSON, admin: 400, reader: 403),
            Route(method: "POST", template: "/admin/restore", body: "{}", admin: 400, reader: 403),
            // Resumable restore uploads: an empty object declares no size (400); an unknown upload is 404.
            Route(method: "POST", template: "/admin/restore/uploads", body: "{}", admin: 400, reader: 403),
            Route(
                method: "HEAD", template: "/admin/restore/uploads/:id", path: "/admin/restore/uploads/\(UUID().uuidString.lowercased())",
                admin: 404, reader: 403),
            Route(
                method: "GET", template: "/admin/restore/uploads/:id", path: "/admin/restore/uploads/\(UUID().uuidString.lowercased())",
                admin: 404, reader: 403),
            Route(
                method: "PATCH", template: "/admin/restore/uploads/:id", path: "/admin/restore/uploads/\(UUID().uuidString.lowercased())",
                admin: 404, reader: 403),
            Route(
                method: "DELETE", template: "/admin/restore/uploads/:id", path: "/admin/restore/uploads/\(UUID().uuidString.lowercased())",
                admin: 404, reader: 403),
            // Verifying an upload reads nothing from the graph and changes nothing: readers may.
            Route(method: "POST", template: "/admin/backup/verify", body: "{}", admin: 400, reader: 400),
            Route(method: "GET", template: "/jobs", admin: 200, reader: 200),
            Route(method: "GET", template: "/jobs/:id", path: "/jobs/\(adminJob)", admin: 200, reader: 404),
            Route(method: "GET", template: "/jobs/:id", path: "/jobs/\(readerJob)", admin: 200, reader: 200),
            Route(method: "GET", template: "/jobs/:id/events", path: "/jobs/\(adminJob)/events", admin: 200, reader: 404),
            Route(method: "DELETE", template: "/jobs/:id", path: "/jobs/\(adminJob)", admin: 409, reader: 404),
            // A backup's file, to its maker only: this job is not a backup (ResumeDownloadTests covers the rest).
            Route(method: "GET", template: "/jobs/:id/backup", path: "/jobs/\(adminJob)/backup", admin: 404, reader: 403),
            Route(method: "GET", template: "/admin/audit", admin: 200, reader: 403),
            Route(method: "POST", template: "/admin/users/:name/revoke-tokens", path: "/admin/users/carol/revoke-tokens", admin: 200, reader: 403),
            Route(method: "POST", template: "/admin/users/:name/revoke-tokens", path: "/admin/users/nobody/revoke-tokens", admin: 404, reader: 403),
            Route(method: "POST", template: "/admin/prune", body: refusedOptions, admin: 400, reader: 403),
            Route(method: "POST", template: "/admin/ontology/delete", body: "{}", admin: 400, reader: 403),
            Route(method: "POST", template: "/admin/stitch", body: refusedOptions, admin: 400, reader: 403),
            Route(method: "GET", template: "/admin/pending", admin: 200, reader: 403),
            // Names and counts, no content: every signed-in user may list the ontologies.
            Route(method: "GET", template: "/ontologies", admin: 200, reader: 200),
            Route(method: "GET", template: "/admin/pending/concepts", admin: 200, reader: 403),
            Route(method: "GET", template: "/admin/checkpoints", admin: 200, reader: 403),
            Route(
                method: "GET", template: "/admin/checkpoints/:id", path: "/admin/checkpoints/\(UUID().uuidString.lowercased())",
                admin: 404, reader: 403),
            Route(
                method: "POST", template: "/admin/checkpoints/:id/restore",
                path: "/admin/checkpoints/\(UUID().uuidString.lowercased())/restore", body: "{}", admin: 404, reader: 403),
        ]
        // Every route the gateway registers is in the table, and the table names no route that is gone.
        let registered = try GatewayRouteRegistrations.read()
        let covered = Set(routes.map { "\($0.method) \($0.template)" })
        XCTAssertEqual(registered.subtracting(covered).sorted(), [], "routes the gateway registers that this test does not call")
        XCTAssertEqual(covered.subtracting(registered).sorted(), [], "routes in this test that the gateway does not register")
        for route in routes {
            for caller in Caller.allCases {
                let expected: Int
                switch caller {
                case .admin: expected = route.admin
                case .reader: expected = route.reader
                default: expected = route.open ? route.admin : 401
                }
                var token = tokens[caller]!
                if route.consumesToken && caller == .admin { token = try stack.token() }
                if route.consumesToken && caller == .reader { token = try stack.token("reader", password: "reader-pw") }
                let path = route.path ?? route.template
                let r = try stack.call(route.method, path, token: token, json: route.body)
                let body = String(decoding: r.body, as: UTF8.self)
                XCTAssertEqual(r.status, expected, "\(route.method) \(path) as \(caller): \(body)")
                if r.status >= 400 && route.method != "HEAD" {  // a HEAD answer has no body
                    XCTAssertNotNil(TestStack.object(r)["error"] as? String, "errors are JSON: \(route.method) \(path) as \(caller): \(body)")
                }
                if r.status == 401 && route.method != "HEAD" {
                    XCTAssertTrue(body.contains("kg login"), "401 says how to log in again: \(body)")
                    if caller == .expired { XCTAssertTrue(body.contains("expired at"), body) }
                    if caller == .revoked { XCTAssertTrue(body.contains("revoked at"), body) }
                }
            }
        }

        // Readers list only their own jobs; admins every job.
        func jobIDs(_ token: String) throws -> Set<String> {
            let list = TestStack.object(try stack.call("GET", "/jobs", token: token))["jobs"] as? [[String: Any]] ?? []
            return Set(list.compactMap { $0["job_id"] as? String })
        }
        XCTAssertEqual(try jobIDs(tokens[.reader]!!), [readerJob])
        XCTAssertEqual(try jobIDs(tokens[.admin]!!), [readerJob, adminJob])

        // A reader cancels their own queued job, never an admin's.
        let readerQueued = try stack.insertJob(user: "reader", status: "queued")
        let adminQueued = try stack.insertJob(user: "admin", status: "queued")
        XCTAssertEqual(try stack.call("DELETE", "/jobs/\(adminQueued)", token: tokens[.reader]!).status, 404)
        XCTAssertEqual(try stack.call("DELETE", "/jobs/\(readerQueued)", token: tokens[.reader]!).status, 200)
        XCTAssertEqual(try stack.call("DELETE", "/jobs/\(adminQueued)", token: tokens[.admin]!).status, 200)
    }

    /// Expired and revoked tokens (by the user, by an admin, by an operator):
    /// the CLI exits 4 and says to log in again.
    func testExpiredAndRevokedTokensAskToLogInAgain() throws {
        stack = try TestStack(workers: 0)
        try stack.addUser("reader", role: "reader", password: "reader-pw")
        let readerHome = stack.root + "/reader-cli"
        try FileManager.default.createDirectory(atPath: readerHome, withIntermediateDirectories: true)
        try stack.login()
        try stack.login("reader", password: "reader-pw", home: readerHome)
        XCTAssertEqual(try stack.kg(["job", "list"], home: readerHome).exitCode, 0)

        // A reader may not back up, restore, revoke or read the audit trail: exit 4.
        for args in [["admin", "backup", "--type", "full"], ["admin", "revoke-tokens", "admin"], ["admin", "audit"]] {
            let r = try stack.kg(args, home: readerHome)
            XCTAssertEqual(r.exitCode, 4, "\(args): \(r.summary)")
            XCTAssertTrue(r.stderr.contains("admin role"), r.stderr)
        }

        // An admin revokes the reader's tokens.
        let revoke = try stack.kg(["admin", "revoke-tokens", "reader"])
        XCTAssertEqual(revoke.exitCode, 0, revoke.summary)
        XCTAssertTrue(revoke.stdout.contains("revoked 1 token(s) of reader"), revoke.stdout)
        var r = try stack.kg(["job", "list"], home: readerHome)
        XCTAssertEqual(r.exitCode, 4, r.summary)
        XCTAssertTrue(r.stderr.contains("revoked at") && r.stderr.contains("kg login"), r.stderr)
        XCTAssertEqual(try stack.kg(["admin", "revoke-tokens", "nobody"]).exitCode, 1)

        // An operator does the same on the server.
        try stack.login("reader", password: "reader-pw", home: readerHome)
        XCTAssertEqual(try stack.kg(["job", "list"], home: readerHome).exitCode, 0)
        let op = try runCommand(stack.binDir + "/kg-gateway", ["user", "revoke", "reader"], environment: stack.serviceEnvironment())
        XCTAssertEqual(op.exitCode, 0, op.summary)
        XCTAssertTrue(op.stdout.contains("revoked 1 token(s) of reader"), op.stdout)
        r = try stack.kg(["job", "list"], home: readerHome)
        XCTAssertEqual(r.exitCode, 4, r.summary)
        let noUser = try runCommand(stack.binDir + "/kg-gateway", ["user", "revoke", "nobody"], environment: stack.serviceEnvironment())
        XCTAssertNotEqual(noUser.exitCode, 0)
        XCTAssertTrue(noUser.stderr.contains("no user nobody"), noUser.summary)

        // Expiry (as if token_ttl_hours had passed).
        try stack.login("reader", password: "reader-pw", home: readerHome)
        let stored = try storedToken(home: readerHome)
        try stack.expire(token: stored)
        r = try stack.kg(["job", "list"], home: readerHome)
        XCTAssertEqual(r.exitCode, 4, r.summary)
        XCTAssertTrue(r.stderr.contains("expired at") && r.stderr.contains("kg login"), r.stderr)

        // `kg logout` revokes the token on the server, not only in the config file.
        let adminToken = try storedToken(home: stack.cliHome)
        XCTAssertEqual(try stack.kg(["logout"]).exitCode, 0)
        r = try stack.kg(["job", "list"], extra: ["KG_TOKEN": adminToken])
        XCTAssertEqual(r.exitCode, 4, r.summary)
        XCTAssertTrue(r.stderr.contains("revoked at"), r.stderr)

        // A tiny token_ttl_hours is honoured too: 0 hours gives a token that is already expired.
        let shortLived = try TestStack(workers: 0, environment: ["KG_TOKEN_TTL_HOURS": "0"])
        defer { shortLived.stop() }
        let token = try shortLived.token()
        let whoami = try shortLived.call("GET", "/auth/whoami", token: token)
        XCTAssertEqual(whoami.status, 401)
        XCTAssertTrue(String(decoding: whoami.body, as: UTF8.self).contains("expired at"))
    }

    /// Every audited action leaves a row (who, what, target, outcome, from where),
    /// and `kg admin audit` shows and filters them, newest first.
    func testAuditTrail() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 12, ontologies: 2, dimensions: 4)
        try stack.addUser("reader", role: "reader", password: "reader-pw")
        let readerHome = stack.root + "/reader-cli"
        try FileManager.default.createDirectory(atPath: readerHome, withIntermediateDirectories: true)

        let wrong = try stack.kg(["login", "--username", "admin", "--password-stdin"], input: "not-the-password\n")
        XCTAssertEqual(wrong.exitCode, 4, wrong.summary)
        let ghost = try stack.kg(["login", "--username", "ghost", "--password-stdin"], input: "x\n")
        XCTAssertEqual(ghost.exitCode, 4, ghost.summary)
        try stack.login()
        try stack.login("reader", password: "reader-pw", home: readerHome)
        XCTAssertEqual(try stack.kg(["admin", "backup", "--type", "full"], home: readerHome).exitCode, 4)

        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary + stack.logs)
        let file = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let restore = try stack.kg(["admin", "restore", file, "--yes", "--dry-run"])
        XCTAssertEqual(restore.exitCode, 0, restore.summary + stack.logs)
        let restoreJob = restore.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(try stack.kg(["admin", "revoke-tokens", "reader"]).exitCode, 0)
        let spare = try stack.token()
        XCTAssertEqual(try stack.call("POST", "/auth/logout", token: spare).status, 200)

        let rows = try stack.auditRows()
        func has(_ actor: String?, _ action: String, _ outcome: String, target: String? = nil, detail: String? = nil) -> Bool {
            rows.contains { row in
                (row["actor"] ?? nil) == actor && (row["action"] ?? nil) == action && (row["outcome"] ?? nil) == outcome
                    && (target == nil || (row["target"] ?? nil) == target)
                    && (detail == nil || ((row["detail"] ?? nil) ?? "").contains(detail!))
            }
        }
        let all = rows.map { "\($0)" }.joined(separator: "\n")
        XCTAssertTrue(has("admin", "login", "failure"), all)
        XCTAssertTrue(has("ghost", "login", "failure"), "a failed login names the user as given: \(all)")
        XCTAssertTrue(has("admin", "login", "success"), all)
        XCTAssertTrue(has("reader", "backup", "refused", detail: "403"), all)
        XCTAssertTrue(has("admin", "backup", "accepted"), all)
        XCTAssertTrue(has("admin", "backup.finished", "completed"), all)
        XCTAssertTrue(has("admin", "restore", "accepted", target: restoreJob, detail: "dry run"), all)
        XCTAssertTrue(has("admin", "restore.finished", "completed", target: restoreJob, detail: "dry run"), all)
        XCTAssertTrue(has("admin", "tokens.revoke", "success", target: "reader", detail: "1 token(s)"), all)
        XCTAssertTrue(has("admin", "logout", "success"), all)
        XCTAssertTrue(has("operator:" + (stack.serviceEnvironment()["USER"] ?? "unknown"), "user.add", "success", target: "reader"), all)
        let gatewayRows = rows.filter { ["login", "logout", "backup", "restore", "tokens.revoke"].contains(($0["action"] ?? nil) ?? "") }
        XCTAssertTrue(gatewayRows.allSatisfy { ($0["remote_address"] ?? nil) == "127.0.0.1" }, "from where: \(all)")

        // The CLI: JSON, newest first, filters.
        func entries(_ args: [String]) throws -> [[String: Any]] {
            let r = try stack.kg(["admin", "audit", "--json"] + args)
            XCTAssertEqual(r.exitCode, 0, r.summary)
            let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return object?["entries"] as? [[String: Any]] ?? []
        }
        let newest = try entries([])
        XCTAssertEqual(newest.first?["action"] as? String, "logout", "newest first")
        XCTAssertEqual(newest.count, rows.count)
        XCTAssertEqual(try entries(["--limit", "2"]).count, 2)
        let reader = try entries(["--user", "reader"])
        XCTAssertFalse(reader.isEmpty)
        XCTAssertTrue(reader.allSatisfy { $0["actor"] as? String == "reader" })
        let restores = try entries(["--action", "restore"])
        XCTAssertEqual(Set(restores.compactMap { $0["action"] as? String }), ["restore", "restore.finished", "restore.upload"])
        XCTAssertEqual(try entries(["--since", "1h"]).count, rows.count)
        XCTAssertEqual(try entries(["--since", "2999-01-01"]).count, 0)
        let bad = try stack.kg(["admin", "audit", "--since", "yesterday-ish"])
        XCTAssertEqual(bad.exitCode, 2, bad.summary)
        XCTAssertTrue(bad.stderr.contains("ISO 8601"), bad.stderr)

        let table = try stack.kg(["admin", "audit", "--action", "login"])
        XCTAssertEqual(table.exitCode, 0, table.summary)
        let lines = table.stdout.split(separator: "\n")
        XCTAssertTrue(lines.first?.hasPrefix("TIME (UTC)") == true, table.stdout)
        XCTAssertTrue(lines.dropFirst().allSatisfy { $0.contains(" login ") }, table.stdout)
        XCTAssertEqual(lines.count, 1 + 5, "header + 2 failed and 3 successful logins: \(table.stdout)")
    }

    private func storedToken(home: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: home + "/config/kg/config.json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try XCTUnwrap(object?["token"] as? String)
    }

    /// Behind a trusted proxy the audit trail records the client it forwarded for;
    /// from any other peer the header is ignored (a client could write anything).
    func testAuditRecordsTheForwardedClientOnlyFromTrustedProxies() throws {
        stack = try TestStack()
        let login = #"{"username": "admin", "password": "wrong"}"#
        _ = try stack.call("POST", "/auth/token", token: nil, json: login, headers: ["X-Forwarded-For": "203.0.113.7"])
        XCTAssertEqual(try stack.auditRows(action: "login").first?["remote_address"], "127.0.0.1", "no trusted proxy: the header is ignored")

        stack.stop()
        stack = try TestStack(environment: ["KG_TRUSTED_PROXIES": "127.0.0.1"])
        _ = try stack.call("POST", "/auth/token", token: nil, json: login, headers: ["X-Forwarded-For": "198.51.100.1, 203.0.113.9"])
        XCTAssertEqual(try stack.auditRows(action: "login").first?["remote_address"], "203.0.113.9", "the hop the proxy saw")
        _ = try stack.call("POST", "/auth/token", token: nil, json: login, headers: ["X-Forwarded-For": "not-an-address"])
        XCTAssertEqual(try stack.auditRows(action: "login").first?["remote_address"], "127.0.0.1", "text that is not an address is ignored")

        // CIDR ranges: a hop inside a trusted range is a proxy too, so the client is the one before it.
        stack.stop()
        stack = try TestStack(environment: ["KG_TRUSTED_PROXIES": "127.0.0.0/8, 203.0.113.0/24"])
        _ = try stack.call("POST", "/auth/token", token: nil, json: login, headers: ["X-Forwarded-For": "198.51.100.1, 203.0.113.9"])
        XCTAssertEqual(try stack.auditRows(action: "login").first?["remote_address"], "198.51.100.1", "203.0.113.9 is a trusted proxy by range")

        // A malformed entry stops the gateway at start, by name.
        let bad = try stack.gatewayStartFailure(environment: ["KG_TRUSTED_PROXIES": "10.0.0.0/33"])
        XCTAssertNotEqual(bad.exitCode, 0, bad.summary)
        XCTAssertTrue(bad.stderr.contains("\"10.0.0.0/33\"") && bad.stderr.contains("CIDR"), bad.summary)
    }

    /// `audit_retention_days`: the gateways delete older audit records (here at
    /// most 30 days), in batches, and keep the rest; 0 keeps everything.
    func testAuditRetentionRemovesOnlyOldRecords() throws {
        stack = try TestStack(environment: ["KG_AUDIT_RETENTION_DAYS": "30", "KG_JANITOR_INTERVAL": "1"])
        let db = try stack.db()
        defer { db.close() }
        // 12,000 records of 40 days ago (more than one batch), 3 of 29 days ago.
        try db.query(
            """
            INSERT INTO kg_api.audit (at, actor, action, outcome, detail)
            SELECT now() - interval '40 days', 'old', 'login', 'failure', 'n' || i FROM generate_series(1, 12000) AS i
            """)
        try db.query(
            """
            INSERT INTO kg_api.audit (at, actor, action, outcome)
            SELECT now() - interval '29 days', 'recent', 'login', 'failure' FROM generate_series(1, 3)
            """)
        _ = try stack.call("POST", "/auth/token", token: nil, json: #"{"username": "admin", "password": "wrong"}"#)
        try stack.waitUntil(30, "the old audit records to be removed") {
            try db.query("SELECT count(*) AS n FROM kg_api.audit WHERE actor = 'old'").first("n") == "0"
        }
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg_api.audit WHERE actor = 'recent'").first("n"), "3")
        XCTAssertEqual(try stack.auditRows(actor: "admin", action: "login").count, 1, "today's record stays")
        XCTAssertTrue(stack.gateways[0].log.contains("removed old audit records"), stack.logs)
    }

}
