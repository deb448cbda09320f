import ArgumentParser
import Foundation
import KGService
import KGWorker
import Logging
import ServiceLifecycle

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
            // Block SIGTERM/SIGINT first, on the main thread, before any other thread
            // exists (threads inherit the mask; the concurrency pool starts lazily),
            // and receive them with sigwait on a thread of our own: the worker's
            // threads run blocking C code, and no other thread may swallow a signal.
            var signals = sigset_t()
            sigemptyset(&signals)
            sigaddset(&signals, SIGTERM)
            sigaddset(&signals, SIGINT)
            pthread_sigmask(SIG_BLOCK, &signals, nil)
            let blocked = signals

            var config = try options.load()
            if let grace { config.shutdownGraceSeconds = grace }
            LogSetup.bootstrap(config: config)
            let logger = Logger(label: LogComponent.worker)
            let service = WorkerService(config: config, logger: logger)
            let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: logger))
            let waiter = Thread {
                var set = blocked
                var received: Int32 = 0
                sigwait(&set, &received)
                Task { await group.triggerGracefulShutdown() }
            }
            waiter.name = "kg-signals"
            waiter.start()
            let finished = DispatchSemaphore(value: 0)
            let failure = FailureBox()
            Task {
                do {
                    try await group.run()
                } catch {
                    failure.error = error
                }
                finished.signal()
            }
            finished.wait()
            if let error = failure.error {
                logger.critical("worker stopped: \(error)")
                throw ExitCode(1)
            }
        }
    }

    /// Carries the service group's error back to the main thread (written once, read after the semaphore).
    final class FailureBox: @unchecked Sendable {
        var error: Error?
    }

}
