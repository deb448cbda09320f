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
        subcommands: [Run.self, MigrateCommand.self],
        defaultSubcommand: Run.self)
}


extension WorkerCommand {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Consume jobs until SIGTERM or SIGINT.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Seconds to let a running job finish after SIGTERM (else it is handed back); default: shutdown_grace_s.")
        var grace: Double?

        func run() throws {
            let config = try options.load()
            LogSetup.bootstrap(level: config.logLevel)
            let logger = Logger(label: "kg-worker")
            // Block SIGTERM/SIGINT before any thread starts (threads inherit the
            // mask), then wait for them here: no other thread can swallow them.
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGTERM)
            sigaddset(&signals, SIGINT)
            pthread_sigmask(SIG_BLOCK, &signals, nil)
            let service = WorkerService(config: config, logger: logger)
            do {
                try service.start()
            } catch {
                logger.critical("worker cannot start: \(error)")
                throw ExitCode(1)
            }
            var received: Int32 = 0
            sigwait(&signals, &received)
            service.stop(grace: grace ?? config.shutdownGraceSeconds)
        }
    }

}
