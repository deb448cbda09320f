import ArgumentParser
import Foundation
import KGService
import KGWorker
import Logging

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kg-worker",
        abstract: "A kg worker: runs backup and restore jobs from the queue.",
        discussion: ServiceConfig.helpText,
        subcommands: [Run.self, Migrate.self],
        defaultSubcommand: Run.self)
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Config file (JSON); else KG_CONFIG. Environment variables override it.")
    var config: String?

    func load() throws -> ServiceConfig {
        do {
            return try ServiceConfig.load(path: config)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

extension WorkerCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Consume jobs until SIGTERM or SIGINT.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Seconds to let a running job finish after SIGTERM.") var grace: Double = 30

        func run() throws {
            let config = try options.load()
            LogSetup.bootstrap(level: config.logLevel)
            let logger = Logger(label: "kg-worker")
            let service = WorkerService(config: config, logger: logger)
            do {
                try service.start()
            } catch {
                logger.critical("worker cannot start: \(error)")
                throw ExitCode(1)
            }
            // Wait for SIGTERM/SIGINT on the main thread, then stop in order.
            signal(SIGTERM, SIG_IGN)
            signal(SIGINT, SIG_IGN)
            let stop = DispatchSemaphore(value: 0)
            let sources = [SIGTERM, SIGINT].map { sig -> DispatchSourceSignal in
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                source.setEventHandler { stop.signal() }
                source.resume()
                return source
            }
            stop.wait()
            service.stop(grace: grace)
            _ = sources
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending database migrations (safe to run concurrently).")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let config = try options.load()
            LogSetup.bootstrap(level: config.logLevel)
            do {
                try MigrationCommand.run(config: config, logger: Logger(label: "kg-migrate"))
            } catch {
                FileHandle.standardError.write(Data("kg-worker migrate: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
