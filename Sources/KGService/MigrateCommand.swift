import ArgumentParser
import Foundation
import KGDatabase
import Logging

/// `kg-gateway migrate` and `kg-worker migrate`: apply pending migrations.
public struct MigrateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending database migrations (safe to run concurrently).")

    @OptionGroup public var options: ConfigOption

    public init() {}

    public func run() throws {
        let config = try options.load()
        LogSetup.bootstrap(config: config)
        let logger = Logger(label: LogComponent.migrate)
        do {
            let db = try PGConnection(url: config.databaseURL, applicationName: "kg-migrate")
            let runner = MigrationRunner(connection: db)
            let applied = try runner.migrate(try Migration.load(from: config.migrationsDir)) { logger.info("\($0)") }
            let version = try runner.currentVersion()
            print(applied.isEmpty ? "schema is current (version \(version))" : "applied \(applied.count) migration(s); schema version \(version)")
        } catch {
            FileHandle.standardError.write(Data("migrate: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
