import Foundation

/// Users and bearer tokens (`kg_api.users`, `kg_api.tokens`).
/// Passwords are bcrypt hashes, made and checked by the caller (the gateway's
/// `PasswordHashing`): no password is ever sent to the database. Tokens are stored as SHA-256.
public struct UserStore {
    public let db: PGConnection

    public init(_ db: PGConnection) { self.db = db }

    public func add(username: String, passwordHash: String, role: String) throws {
        try db.query(
            """
            INSERT INTO kg_api.users (username, password_hash, role) VALUES ($1, $2, $3)
            """, [username, passwordHash, role])
    }

    /// Creates the first user unless any user exists; safe when several gateways start at once.
    @discardableResult
    public func addFirst(username: String, passwordHash: String, role: String) throws -> Bool {
        try db.query("SELECT pg_advisory_xact_lock(7420190003)")
        return
            !(try db.query(
                """
                INSERT INTO kg_api.users (username, password_hash, role)
                SELECT $1, $2, $3
                WHERE NOT EXISTS (SELECT 1 FROM kg_api.users)
                ON CONFLICT (username) DO NOTHING
                RETURNING username
                """, [username, passwordHash, role]
            ).isEmpty)
    }

    public func setPassword(username: String, passwordHash: String) throws -> Bool {
        !(try db.query(
            """
            UPDATE kg_api.users SET password_hash = $2 WHERE username = $1 RETURNING username
            """, [username, passwordHash]
        ).isEmpty)
    }

    public func remove(username: String) throws -> Bool {
        !(try db.query("DELETE FROM kg_api.users WHERE username = $1 RETURNING username", [username]).isEmpty)
    }

    public func list() throws -> [(username: String, role: String, createdAt: String)] {
        try db.query("SELECT username, role, created_at::text AS created FROM kg_api.users ORDER BY username").rows.map {
            ($0[0] ?? "", $0[1] ?? "", $0[2] ?? "")
        }
    }

    public func count() throws -> Int {
        try db.query("SELECT count(*) AS n FROM kg_api.users").first("n", as: Int.self) ?? 0
    }

    /// The user's role and stored bcrypt hash, to check a password against; nil for an unknown name.
    public func credentials(username: String) throws -> (role: String, passwordHash: String)? {
        let r = try db.query("SELECT role, password_hash FROM kg_api.users WHERE username = $1", [username])
        guard let row = r.rows.first, let role = row[0], let hash = row[1] else { return nil }
        return (role, hash)
    }

    /// Issues a new random token valid for `ttlSeconds`; returns it (only its hash is stored).
    public func issueToken(username: String, ttlSeconds: Int) throws -> (token: String, expiresAt: String) {
        var generator = SystemRandomNumberGenerator()
        let token = "kg_" + (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let expires =
            try db.query(
                """
                INSERT INTO kg_api.tokens (token_hash, username, expires_at)
                VALUES (sha256(convert_to($1, 'UTF8')), $2, now() + make_interval(secs => $3::int))
                RETURNING to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires
                """, [token, username, String(ttlSeconds)]
            ).first("expires") ?? ""
        return (token, expires)
    }

    /// The user behind a valid, unexpired, unrevoked token.
    public func authenticate(token: String) throws -> (username: String, role: String)? {
        let r = try db.query(
            """
            SELECT u.username, u.role FROM kg_api.tokens t JOIN kg_api.users u USING (username)
            WHERE t.token_hash = sha256(convert_to($1, 'UTF8')) AND t.revoked_at IS NULL AND t.expires_at > now()
            """, [token])
        guard let row = r.rows.first, let name = row[0], let role = row[1] else { return nil }
        return (name, role)
    }

    @discardableResult
    public func revoke(token: String) throws -> Bool {
        !(try db.query(
            """
            UPDATE kg_api.tokens SET revoked_at = now()
            WHERE token_hash = sha256(convert_to($1, 'UTF8')) AND revoked_at IS NULL RETURNING username
            """, [token]
        ).isEmpty)
    }
}
