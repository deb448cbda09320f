import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import KGDatabase
import KGService
import Logging
import Prometheus

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
        var tls: TLSConfiguration?
        var sampler: SharedStateSampler
        var registry: PrometheusCollectorRegistry?
    }

    static func application(config: ServiceConfig, pool: PGPool, queue: JobQueue, hub: StatusHub,
                            storage: TempStorage, logger: Logger, observability: Observability) throws -> some ApplicationProtocol {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: RequestMetricsMiddleware())
        router.add(middleware: AuthMiddleware(pool: pool))
        HealthRoutes(pool: pool, queue: queue).register(on: router)
        MetricsRoutes(pool: pool, sampler: observability.sampler, registry: observability.registry).register(on: router)
        AuthRoutes(pool: pool, tokenTTLHours: config.tokenTTLHours).register(on: router)
        JobRoutes(pool: pool, hub: hub).register(on: router)
        BackupRoutes(pool: pool, queue: queue, storage: storage,
                     heartbeatTimeout: config.heartbeatTimeoutSeconds, logger: logger).register(on: router)
        RestoreRoutes(pool: pool, queue: queue, storage: storage, maxUploadBytes: config.maxUploadBytes,
                      maxDecompressedBytes: config.maxDecompressedBytes, logger: logger).register(on: router)
        let janitor = TempJanitor(storage: storage, pool: pool, idleTimeout: config.uploadIdleTimeoutSeconds,
                                  interval: config.janitorIntervalSeconds, logger: logger)
        // HTTPS when a certificate is configured (checked at startup); else plain HTTP, e.g. behind a TLS proxy.
        var server = HTTPServerBuilder.http1()
        if let tls = observability.tls { server = try .tls(.http1(), tlsConfiguration: tls) }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "kg-gateway"),
            services: [janitor],
            logger: Logger(label: LogComponent.http))
    }
}
