import Foundation
import Hummingbird
import KGDatabase
import KGService
import Logging

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
        HealthRoutes(pool: pool, queue: queue).register(on: router)
        AuthRoutes(pool: pool, tokenTTLHours: config.tokenTTLHours).register(on: router)
        JobRoutes(pool: pool, hub: hub).register(on: router)
        BackupRoutes(pool: pool, queue: queue, storage: storage,
                     heartbeatTimeout: config.heartbeatTimeoutSeconds, logger: logger).register(on: router)
        RestoreRoutes(pool: pool, queue: queue, storage: storage, maxUploadBytes: config.maxUploadBytes,
                      maxDecompressedBytes: config.maxDecompressedBytes, logger: logger).register(on: router)
        CheckpointRoutes(pool: pool, logger: logger).register(on: router)
        SurgeryRoutes(pool: pool, queue: queue, logger: logger).register(on: router)
        PendingRoutes(pool: pool).register(on: router)
        StitchRoutes(pool: pool, queue: queue, logger: logger).register(on: router)
        let janitor = TempJanitor(storage: storage, pool: pool, idleTimeout: config.uploadIdleTimeoutSeconds,
                                  interval: config.janitorIntervalSeconds, logger: logger)
        return Application(
            router: router,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "kg-gateway"),
            services: [janitor],
            logger: logger)
    }
}
