import ArgumentParser
import Foundation
import Logging

/// `kg-gateway migrate` and `kg-worker migrate`: apply pending migrations.
public struct MigrateCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending database migrations (safe to run concurrently).")

    @OptionGroup public var options: ConfigOption

    public init() {}

    public func run() throws {
        let config = try options.load()
        LogSetup.bootstrap(level: config.logLevel)
        do {
            try MigrationCommand.run(config: config, logger: Logger(label: "kg-migrate"))
        } catch {
            FileHandle.standardError.write(Data("migrate: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
