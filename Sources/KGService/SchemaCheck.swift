import KGDatabase

/// Refuses to run against a database that is behind the service's migrations.
public enum SchemaCheck {
    /// Throws with the command that applies the missing migrations.
    public static func requireCurrent(_ db: PGConnection, migrationsDir: String, command: String) throws -> Int {
        let known = try Migration.load(from: migrationsDir).last?.version ?? 0
        let current = try MigrationRunner(connection: db).currentVersion()
        if current < known {
            throw ConfigError("the database is at schema version \(current) but this build needs \(known): run `\(command) migrate` first")
        }
        return current
    }
}
