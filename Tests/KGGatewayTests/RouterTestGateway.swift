import Foundation
import Hummingbird
import HummingbirdTesting
import KGBroker
import KGDatabase
import KGService
import Logging

@testable import KGGateway

/// The gateway's whole application (`Gateway.application`: its middlewares, every route, its services),
/// run in process by `app.test(.router)` with no database and no broker: the pool and the publisher point
/// at a closed port, so whatever needs them answers as it does when they are away. What the gateway refuses
/// before it needs either is then tested without any process.
///
/// `signedIn` replaces ``AuthMiddleware`` (which needs the database to accept a token) with a fixed user,
/// to reach the refusals that come after authentication; without it the real ``AuthMiddleware`` runs.
final class RouterTestGateway {
    let config: ServiceConfig
    let pool: PGPool
    let publisher: JobPublisher
    /// A new folder of the test's, removed with the gateway.
    let storage: TempStorage

    /// A port nothing listens on (TCP port 1 on the loopback: refused at once).
    static let closedDatabaseURL = "postgresql://kg@127.0.0.1:1/kg?connect_timeout=1"
    static let closedBrokerURL = "amqp://guest:guest@127.0.0.1:1/"

    init(maxUploadBytes: Int = 1000, maxStitchBytes: Int = 1000) throws {
        var config = ServiceConfig()
        config.databaseURL = Self.closedDatabaseURL
        config.maxUploadBytes = maxUploadBytes
        config.maxStitchBytes = maxStitchBytes
        // 0: no per-user job count, which is read from the database before a body is.
        config.maxJobsPerUser = 0
        self.config = config
        let directory = NSTemporaryDirectory() + "kg-router-tests-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        storage = try TempStorage(directory: directory)
        pool = PGPool(url: config.databaseURL, size: 1)
        publisher = JobPublisher(nodes: BrokerNodes([try AMQPURL(Self.closedBrokerURL)]), topology: JobTopology(), deadline: 1)
    }

    deinit {
        publisher.shutdown()
        pool.shutdown()
        try? FileManager.default.removeItem(atPath: storage.directory)
    }

    /// Runs `test` against the application, signed in as `signedIn` when given.
    func test(signedIn: AuthenticatedUser? = nil, _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void)
        async throws
    {
        let queue = BrokerJobQueue(publisher: publisher, subscriber: nil, cluster: nil)
        let observability = Gateway.Observability(
            tls: nil, sampler: SharedStateSampler(probe: nil, queues: [], storage: storage, queue: queue), registry: nil)
        let app = try Gateway.application(
            config: config, pool: pool, queue: queue, hub: StatusHub(), storage: storage,
            logger: Logger(label: "kg.router-tests"), observability: observability,
            signIn: signedIn.map { SignedIn(user: $0) })
        try await app.test(.router) { client in try await test(client) }
    }

    /// Runs `test` against a new gateway (see ``test(signedIn:_:)``).
    static func run(
        signedIn: AuthenticatedUser? = nil, maxUploadBytes: Int = 1000, maxStitchBytes: Int = 1000,
        _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await RouterTestGateway(maxUploadBytes: maxUploadBytes, maxStitchBytes: maxStitchBytes).test(signedIn: signedIn, test)
    }

    static let admin = AuthenticatedUser(username: "ana", role: "admin")
    static let reader = AuthenticatedUser(username: "bo", role: "reader")
}

/// Stands in for ``AuthMiddleware`` in the router tests: every request is `user`'s.
struct SignedIn: RouterMiddleware {
    typealias Context = GatewayRequestContext
    let user: AuthenticatedUser

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        context.user = user
        return try await next(request, context)
    }
}
