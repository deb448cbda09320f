import Foundation
import KGBroker
import KGDatabase
import KGService
import Logging
import ServiceLifecycle

/// A kg worker: consumes jobs one at a time (prefetch 1, manual ack after the
/// job's terminal state), publishes status events, and cleans temp storage.
/// Stateless: any number of workers can share one queue and one database.
public final class WorkerService: Service, @unchecked Sendable {
    private let config: ServiceConfig
    private let logger: Logger
    private var consumer: JobConsumer?
    private var events: StatusPublisher?
    private var presence: WorkerPresence?

    public init(config: ServiceConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// The service's life in a `ServiceGroup`: start, run until graceful shutdown
    /// (SIGTERM), then stop taking jobs and give the current one `grace` seconds.
    public func run() async throws {
        try start()
        try? await gracefulShutdown()
        let grace = config.shutdownGraceSeconds
        // Stopping blocks (it waits for the job's thread): keep it off the cooperative pool.
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                stop(grace: grace)
                done.resume()
            }
            thread.name = "kg-worker-stop"
            thread.start()
        }
    }

    /// Starts consuming; returns once the consumer threads are running.
    public func start() throws {
        let db = try PGConnection(url: config.databaseURL, applicationName: "kg-worker")
        let version = try SchemaCheck.requireCurrent(db, migrationsDir: config.migrationsDir, command: "kg-worker")
        db.close()
        let storage = try TempStorage(directory: config.tempDir)
        storage.sweep(maxAgeHours: config.tempMaxAgeHours, logger: logger)

        let urls = try config.brokerURLs.map { try AMQPURL($0) }
        // Both connections start at the same (random) node, so a worker uses one node at a time
        // and workers spread over the cluster; each moves to the next node when it loses its own.
        let firstNode = Int.random(in: 0..<urls.count)
        let topology = JobTopology(prefix: config.brokerPrefix, queueType: config.brokerQueueType)
        let logger = self.logger
        let brokerLogger = Logger(label: LogComponent.broker)
        let brokerLog: BrokerLog = { brokerLogger.notice("\($0)") }
        let events = StatusPublisher(nodes: BrokerNodes(urls, start: firstNode), exchange: topology.statusExchange, log: brokerLog)
        let runner = JobRunner(config: config, events: events, storage: storage, logger: logger)
        let consumer = JobConsumer(
            nodes: BrokerNodes(urls, start: firstNode), queue: topology.jobQueue, heartbeatSeconds: config.brokerHeartbeatSeconds, prefetch: 1,
            prepare: { connection in
                // The job queue must be there; a dead-letter queue whose node is down must not stop the worker.
                if let problem = try topology.declareTolerantly(on: connection) { brokerLog(problem) }
            }, log: brokerLog,
            handler: { runner.handle($0) })
        consumer.start()
        self.consumer = consumer
        self.events = events
        let presence = WorkerPresence(workerID: config.workerID, consumer: consumer, events: events)
        presence.start()
        self.presence = presence
        var metadata: Logger.Metadata = ["worker_id": "\(config.workerID)", "schema_version": "\(version)", "queue": "\(topology.jobQueue)"]
        for (key, value) in config.loggableSummary { metadata[key] = "\(value)" }
        logger.info("worker started", metadata: metadata)
    }

    /// Stops taking jobs, lets the current one finish within `grace` seconds, then
    /// stops. A job still running then is handed back: the process exits, its
    /// database sessions end (the job's transaction rolls back) and the broker
    /// redelivers the unacknowledged message to another worker.
    public func stop(grace: Double) {
        logger.info("worker stopping: no new jobs; waiting up to \(grace) s for the current one")
        consumer?.stopConsuming()
        consumer?.stop(drainTimeout: grace)
        if let consumer, consumer.activeJobCount > 0 {
            logger.notice("the current job did not finish within the grace period; handing it back")
        }
        presence?.stop()
        events?.shutdown()
        logger.info("worker stopped")
    }
}
