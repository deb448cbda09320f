import KGDatabase
import Logging

/// `kg-gateway migrate` / `kg-worker migrate`: applies pending migrations.
public enum MigrationCommand {
    public static func run(config: ServiceConfig, logger: Logger) throws {
        let db = try PGConnection(url: config.databaseURL, applicationName: "kg-migrate")
        let migrations = try Migration.load(from: config.migrationsDir)
        let applied = try MigrationRunner(connection: db).migrate(migrations) { logger.info("\($0)") }
        let version = try MigrationRunner(connection: db).currentVersion()
        print(applied.isEmpty ? "schema is current (version \(version))" : "applied \(applied.count) migration(s); schema version \(version)")
    }
}
