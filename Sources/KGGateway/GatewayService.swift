import Foundation
import Hummingbird
import KGBroker
import KGDatabase
import KGService
import Logging

/// Starts everything the gateway needs and serves HTTP until SIGTERM/SIGINT.
public enum GatewayService {
    public static func run(config: ServiceConfig, logger: Logger) async throws {
        // First, before any connection: a bad certificate or key stops the gateway with the file's name.
        let tls = try ReloadableTLSContext.make(
            certificateFile: config.tlsCertificateFile, privateKeyFile: config.tlsPrivateKeyFile,
            minimumVersion: config.tlsMinimumVersion)
        let reload = ReloadSignal(tls: tls, logger: logger)
        logger.info(
            "gateway starting",
            metadata: [
                "database": "\(SecretRedaction.url(config.databaseURL))",
                "broker": "\(config.brokerURLs.map(SecretRedaction.url).joined(separator: ","))",
                "temp_dir": "\(config.tempDir)",
            ])
        // Refuse to serve a database that is behind this build's migrations.
        let db = try PGConnection(url: config.databaseURL, applicationName: "kg-gateway")
        let version = try SchemaCheck.requireCurrent(db, migrationsDir: config.migrationsDir, command: "kg-gateway")
        try bootstrapAdmin(config: config, db: db, logger: logger)
        db.close()

        let storage = try TempStorage(directory: config.tempDir)
        storage.sweep(maxAgeHours: config.tempMaxAgeHours, logger: logger)

        let urls = try config.brokerURLs.map { try AMQPURL($0) }
        let topology = JobTopology(prefix: config.brokerPrefix, queueType: config.brokerQueueType)
        // Every connection of this gateway starts at the same (random) node: gateways spread over
        // the cluster, and each connection moves to the next node when it loses its own.
        let firstNode = Int.random(in: 0..<urls.count)
        try declareTopology(nodes: BrokerNodes(urls, start: firstNode), topology: topology, logger: logger)
        let brokerLogger = Logger(label: LogComponent.broker)
        let brokerLog: BrokerLog = { brokerLogger.notice("\($0)") }
        // On a cluster a publish may wait for a new queue leader (its node died: publishes in
        // flight are nacked after some seconds and go again): give it longer than one node needs.
        // Without a majority the job is refused at once (BrokerJobQueue), not after this.
        let publisher = JobPublisher(
            nodes: BrokerNodes(urls, start: firstNode), topology: topology,
            deadline: urls.count > 1 ? 15 : 5, log: brokerLog)
        let hub = StatusHub()
        let subscriber = StatusSubscriber(
            nodes: BrokerNodes(urls, start: firstNode), exchange: topology.statusExchange,
            bindingKeys: ["job.#", "worker.presence"], log: brokerLog
        ) { key, body in
            hub.deliver(routingKey: key, body: body)
        }
        subscriber.start()
        let pool = PGPool(url: config.databaseURL, size: config.dbPoolSize)
        let probe = QueueProbe(nodes: BrokerNodes(urls, start: firstNode))
        // Only a cluster has a majority to watch; one node's readiness is the publisher's connection.
        let clusterProbe = urls.count > 1 ? ClusterProbe(urls: urls) : nil
        let queue = BrokerJobQueue(publisher: publisher, subscriber: subscriber, cluster: clusterProbe)
        let observability = Gateway.Observability(
            tls: tls,
            sampler: SharedStateSampler(
                probe: probe, queues: [topology.jobQueue, topology.deadLetterQueue], storage: storage,
                queue: queue),
            registry: GatewayMetrics.bootstrap())
        defer {
            clusterProbe?.shutdown()
            probe.shutdown()
            subscriber.stop()
            publisher.shutdown()
            pool.shutdown()
        }
        let app = try Gateway.application(
            config: config, pool: pool, queue: queue, hub: hub,
            storage: storage, logger: logger, observability: observability)
        var metadata: Logger.Metadata = [
            "address": "\(config.host):\(config.port)", "schema_version": "\(version)",
            "scheme": "\(tls == nil ? "http" : "https")",
        ]
        for (key, value) in config.loggableSummary { metadata[key] = "\(value)" }
        logger.info("gateway listening", metadata: metadata)
        try await app.runService()
        withExtendedLifetime(reload) {}
    }

    /// Creates the first admin from config when the database has no user yet.
    static func bootstrapAdmin(config: ServiceConfig, db: PGConnection, logger: Logger) throws {
        guard let name = config.adminUsername, let password = config.adminPassword, !name.isEmpty, !password.isEmpty else { return }
        let hash = try PasswordHashing.hash(password)
        let created = try db.transaction { try UserStore(db).addFirst(username: name, passwordHash: hash, role: "admin") }
        if created { logger.notice("created the first admin user", metadata: ["user": "\(name)"]) }
    }

    /// Declares exchanges and queues, waiting up to a minute for the broker.
    static func declareTopology(nodes: BrokerNodes, topology: JobTopology, logger: Logger) throws {
        let deadline = Date().addingTimeInterval(60)
        while true {
            do {
                let connection = try nodes.connect { try AMQPConnection(url: $0, heartbeatSeconds: 0, connectTimeout: 2) }
                defer { connection.close() }
                if let problem = try topology.declareTolerantly(on: connection) { logger.warning("\(problem)") }
                return
            } catch {
                if Date() > deadline { throw error }
                logger.warning("broker not reachable yet (\(error)); retrying")
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }
}
