import Foundation

/// One numbered SQL file of `schema/migrations` (`NNN_name.sql`).
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    /// Reads and orders every `NNN_name.sql` in `directory`.
    public static func load(from directory: String) throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw PGError(
                "cannot read migrations from \(directory): \(error.localizedDescription); set KG_MIGRATIONS_DIR to the schema/migrations folder")
        }
        var migrations: [Migration] = []
        for file in names where file.hasSuffix(".sql") {
            let stem = String(file.dropLast(4))
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]) else { continue }
            let sql = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw PGError("two migrations share version \(a.version): \(a.name) and \(b.name)")
        }
        return migrations
    }
}

/// Applies pending migrations in order, each in its own transaction, and records
/// them in `kg_api.schema_migrations`. Safe when several processes start at once:
/// an advisory lock serialises them and each re-reads what is applied.
public struct MigrationRunner {
    /// Arbitrary constant key for the migration advisory lock.
    static let lockKey = "7420190001"

    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// The highest applied version, or 0 for an empty database.
    public func currentVersion() throws -> Int {
        let exists = try connection.query("SELECT to_regclass('kg_api.schema_migrations') IS NOT NULL AS present")
        guard exists.first("present") == "t" else { return 0 }
        let result = try connection.query("SELECT coalesce(max(version), 0) AS v FROM kg_api.schema_migrations")
        return result.first("v", as: Int.self) ?? 0
    }

    /// Applies every migration newer than the database; returns the ones applied.
    @discardableResult
    public func migrate(_ migrations: [Migration], upTo target: Int = .max, log: (String) -> Void = { _ in }) throws -> [Migration] {
        try connection.query("SELECT pg_advisory_lock($1::bigint)", [Self.lockKey])
        defer { _ = try? connection.query("SELECT pg_advisory_unlock($1::bigint)", [Self.lockKey]) }
        try connection.execute(
            """
            CREATE SCHEMA IF NOT EXISTS kg_api;
            CREATE TABLE IF NOT EXISTS kg_api.schema_migrations (
                version      integer PRIMARY KEY,
                description  text NOT NULL,
                applied_at   timestamptz NOT NULL DEFAULT now()
            );
            """)
        let current = try currentVersion()
        var applied: [Migration] = []
        for migration in migrations where migration.version > current && migration.version <= target {
            do {
                try connection.transaction {
                    try connection.execute(migration.sql)
                    try connection.query(
                        "INSERT INTO kg_api.schema_migrations (version, description) VALUES ($1::int, $2)",
                        [String(migration.version), migration.name])
                }
            } catch {
                throw PGError("migration \(migration.version) (\(migration.name)) failed and was rolled back: \(error)")
            }
            log("applied migration \(migration.version) \(migration.name)")
            applied.append(migration)
        }
        return applied
    }
}
