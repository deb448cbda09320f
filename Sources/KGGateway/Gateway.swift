import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import KGDatabase
import KGService
import Logging
import Prometheus
import NIOCore
import NIOPosix

/// The gateway application: routes, authentication, and the shared parts
/// (database pool, job queue, status hub, temp storage).
///
/// ```swift
/// let app = try Gateway.application(config: config, pool: pool, queue: queue, hub: hub, storage: storage,
///                                   logger: logger, observability: observability)
/// try await app.runService()
/// ```
public enum Gateway {
    /// TLS and metrics parts of the application, made once at startup.
    struct Observability {
        var tls: ReloadableTLSContext?
        var sampler: SharedStateSampler
        var registry: PrometheusCollectorRegistry?
    }

    /// - Parameter signIn: who a request is, from its headers: ``AuthMiddleware`` (a bearer token the database
    ///   knows). The in-process router tests (`GatewayRouterTests`) sign a fixed user in instead, to reach the
    ///   refusals that come after authentication without a database.
    static func application(
        config: ServiceConfig, pool: PGPool, queue: JobQueue, hub: StatusHub,
        storage: TempStorage, logger: Logger, observability: Observability,
        signIn: (any MiddlewareProtocol<Request, Response, GatewayRequestContext>)? = nil
    ) throws -> some ApplicationProtocol {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: ForwardedForMiddleware(trusted: try TrustedProxies(config.trustedProxies)))
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: signIn ?? AuthMiddleware(pool: pool) as any MiddlewareProtocol<Request, Response, GatewayRequestContext>)
        router.add(middleware: NULRefusalMiddleware())
        let audit = AuditTrail(pool: pool, logger: logger)
        let backlog = JobFailureBacklog(logger: logger)
        let jobs = JobSubmitter(pool: pool, queue: queue, maxJobsPerUser: config.maxJobsPerUser, backlog: backlog)
        HealthRoutes(pool: pool, queue: queue).register(on: router)
        let jobStatistics = JobStatisticsCache(pool: pool, maxAge: config.metricsCacheSeconds, durationBuckets: MetricsRoutes.durationBuckets)
        MetricsRoutes(jobStatistics: jobStatistics, sampler: observability.sampler, registry: observability.registry, workers: hub.workers)
            .register(on: router)
        let throttle = LoginThrottle(
            maxPerAddress: config.loginMaxFailuresPerAddress, maxPerUser: config.loginMaxFailuresPerUser,
            window: config.loginFailureWindowSeconds, logger: Logger(label: LogComponent.http))
        AuthRoutes(
            pool: pool, tokenTTLHours: config.tokenTTLHours, audit: audit, throttle: throttle,
            verifier: PasswordVerifier(pool: pool)
        ).register(on: router)
        JobRoutes(pool: pool, hub: hub).register(on: router)
        BackupRoutes(
            pool: pool, jobs: jobs, storage: storage, heartbeatTimeout: config.heartbeatTimeoutSeconds,
            resumeWindow: config.backupResumeWindowSeconds, audit: audit, logger: logger, hub: hub
        ).register(on: router)
        BackupFileRoutes(
            pool: pool, heartbeatTimeout: config.heartbeatTimeoutSeconds, resumeWindow: config.backupResumeWindowSeconds,
            audit: audit, logger: logger, hub: hub
        ).register(on: router)
        // Uploads are parsed and checked here, off the cooperative pool: one thread per check allowed at once.
        let checkPool = NIOThreadPool(numberOfThreads: config.maxConcurrentVerifies > 0 ? config.maxConcurrentVerifies : System.coreCount)
        checkPool.start()
        let restore = RestoreRoutes(
            pool: pool, jobs: jobs, storage: storage, maxUploadBytes: config.maxUploadBytes,
            maxDecompressedBytes: config.maxDecompressedBytes, idCheckMemoryBytes: config.idCheckMemoryBytes,
            uploadIdleTimeout: config.uploadIdleTimeoutSeconds,
            checkPool: checkPool, audit: audit, logger: logger)
        restore.register(on: router)
        let uploadCheckers = UploadCheckers()
        RestoreUploadRoutes(
            restore: restore, window: config.restoreUploadWindowSeconds, checkers: uploadCheckers,
            pipeline: RestorePipeline(restore: restore, minBytes: config.restorePipelineMinBytes)
        ).register(on: router)
        let uploadSweeper = UploadSessionSweeper(
            directory: storage.directory, window: config.restoreUploadWindowSeconds,
            interval: config.janitorIntervalSeconds, logger: logger, checkers: uploadCheckers)
        VerifyRoutes(
            slots: CheckSlots(perUser: config.maxVerifiesPerUser, total: config.maxConcurrentVerifies), checkPool: checkPool,
            maxUploadBytes: config.maxUploadBytes, maxDecompressedBytes: config.maxDecompressedBytes,
            idCheckMemoryBytes: config.idCheckMemoryBytes, tempDirectory: storage.directory,
            audit: audit, logger: logger
        ).register(on: router)
        AdminUserRoutes(pool: pool, audit: audit).register(on: router)
        AuditRoutes(pool: pool).register(on: router)
        CheckpointRoutes(pool: pool, jobs: jobs, audit: audit, logger: logger).register(on: router)
        SurgeryRoutes(pool: pool, jobs: jobs, audit: audit, logger: logger).register(on: router)
        PendingRoutes(pool: pool).register(on: router)
        OntologyRoutes(pool: pool).register(on: router)
        StitchRoutes(pool: pool, jobs: jobs, storage: storage, maxBytes: config.maxStitchBytes, audit: audit, logger: logger)
            .register(on: router)
        var janitor = TempJanitor(
            storage: storage, pool: pool, backlog: backlog, idleTimeout: config.uploadIdleTimeoutSeconds,
            interval: config.janitorIntervalSeconds, logger: logger)
        janitor.queue = queue
        janitor.heartbeatTimeout = config.heartbeatTimeoutSeconds
        janitor.auditRetentionDays = config.auditRetentionDays
        janitor.backupResumeWindow = config.backupResumeWindowSeconds
        // HTTPS when a certificate is configured (checked at startup); else plain HTTP, e.g. behind a TLS proxy.
        let requestTimeout = requestTimeout(config)
        let httpLogger = Logger(label: LogComponent.http)
        let http1Configuration = HTTP1Channel.Configuration(
            additionalChannelHandlers: requestTimeout.map { [RequestDeadlineHandler(timeout: $0, logger: httpLogger)] } ?? [],
            idleTimeout: idleTimeout(config))
        var server = HTTPServerBuilder.http1(configuration: http1Configuration)
        if let tls = observability.tls {
            // The certificate of each new connection is the latest loaded (SIGHUP reloads it).
            server = HTTPServerBuilder { responder in
                ReloadableTLSChannel(base: HTTP1Channel(responder: responder, configuration: http1Configuration), tls: tls)
            }
        }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "kg-gateway", backlog: listenBacklog),
            services: [janitor, uploadSweeper],
            logger: Logger(label: LogComponent.http))
    }

    /// The listen queue: connections the kernel has completed and the gateway not yet accepted.
    /// Hummingbird's default (256) overflows when a burst of clients connects at once (a swarm,
    /// or many CLIs after a restart); the kernel then drops the handshake and a well-behaved
    /// client waits for TCP's 1 s SYN retransmit. The kernel caps this at `net.core.somaxconn`
    /// (4096 on Debian 12).
    static let listenBacklog = 4096

    /// `http_idle_timeout_s` for Hummingbird's HTTP/1 channel. Its idle timer runs while
    /// a connection is between requests or still sending a request's head or body, and
    /// never while a response is being written: a backup download or an SSE stream is
    /// not cut, a client that stops sending mid-request (slow-loris) is.
    static func idleTimeout(_ config: ServiceConfig) -> TimeAmount? {
        config.httpIdleTimeoutSeconds > 0 ? .milliseconds(Int64(config.httpIdleTimeoutSeconds * 1000)) : nil
    }

    /// `http_request_timeout_s` (``RequestDeadlineHandler``): a trickling client is
    /// never idle, so the idle timer alone does not stop it.
    static func requestTimeout(_ config: ServiceConfig) -> TimeAmount? {
        config.httpRequestTimeoutSeconds > 0 ? .milliseconds(Int64(config.httpRequestTimeoutSeconds * 1000)) : nil
    }
}
