extension UserStore {
    /// Why a token that does not authenticate is refused: "expired at …", "revoked at …",
    /// or nil when it is unknown (never issued, or its user was removed).
    public func refusalReason(token: String) throws -> String? {
        let r = try db.query(
            """
            SELECT to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS revoked,
                   to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS expires,
                   expires_at <= now() AS expired
            FROM kg_api.tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))
            """, [token])
        guard !r.isEmpty else { return nil }
        if let revoked = r.first("revoked") { return "the token was revoked at \(revoked)" }
        if r.first("expired") == "t" { return "the token expired at \(r.first("expires") ?? "?")" }
        return nil
    }

    /// Revokes every live token of `username`; returns how many.
    @discardableResult
    public func revokeAll(username: String) throws -> Int {
        try db.query(
            """
            UPDATE kg_api.tokens SET revoked_at = now()
            WHERE username = $1 AND revoked_at IS NULL AND expires_at > now() RETURNING 1
            """, [username]
        ).rows.count
    }

    public func exists(username: String) throws -> Bool {
        !(try db.query("SELECT 1 FROM kg_api.users WHERE username = $1", [username]).isEmpty)
    }
}
