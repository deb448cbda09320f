import Foundation
import Hummingbird
import KGDatabase
import KGService
import Logging
import NIOCore

/// The gateway application: routes, authentication, and the shared parts
/// (database pool, job queue, status hub, temp storage).
///
/// ```swift
/// let app = try Gateway.application(config: config, queue: publisher, hub: hub, logger: logger)
/// try await app.runService()
/// ```
public enum Gateway {
    static func application(config: ServiceConfig, pool: PGPool, queue: JobQueue, hub: StatusHub,
                            storage: TempStorage, logger: Logger) -> some ApplicationProtocol {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: AuthMiddleware(pool: pool))
        let audit = AuditTrail(pool: pool, logger: logger)
        HealthRoutes(pool: pool, queue: queue).register(on: router)
        AuthRoutes(pool: pool, tokenTTLHours: config.tokenTTLHours, audit: audit).register(on: router)
        JobRoutes(pool: pool, hub: hub).register(on: router)
        BackupRoutes(pool: pool, queue: queue, storage: storage, heartbeatTimeout: config.heartbeatTimeoutSeconds,
                     maxJobsPerUser: config.maxJobsPerUser, audit: audit, logger: logger).register(on: router)
        RestoreRoutes(pool: pool, queue: queue, storage: storage, maxUploadBytes: config.maxUploadBytes,
                      maxDecompressedBytes: config.maxDecompressedBytes, maxJobsPerUser: config.maxJobsPerUser,
                      audit: audit, logger: logger).register(on: router)
        AdminUserRoutes(pool: pool, audit: audit).register(on: router)
        AuditRoutes(pool: pool).register(on: router)
        let janitor = TempJanitor(storage: storage, pool: pool, idleTimeout: config.uploadIdleTimeoutSeconds,
                                  interval: config.janitorIntervalSeconds, logger: logger)
        return Application(
            router: router,
            server: .http1(configuration: .init(idleTimeout: idleTimeout(config))),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "kg-gateway"),
            services: [janitor],
            logger: logger)
    }

    /// `http_idle_timeout_s` for Hummingbird's HTTP/1 channel. Its idle timer runs while
    /// a connection is between requests or still sending a request's head or body, and
    /// never while a response is being written: a backup download or an SSE stream is
    /// not cut, a client that stops sending mid-request (slow-loris) is.
    static func idleTimeout(_ config: ServiceConfig) -> TimeAmount? {
        config.httpIdleTimeoutSeconds > 0 ? .milliseconds(Int64(config.httpIdleTimeoutSeconds * 1000)) : nil
    }
}
