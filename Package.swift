// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "kg",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kg", targets: ["kg"]),
        .executable(name: "kg-gateway", targets: ["kg-gateway"]),
        .executable(name: "kg-worker", targets: ["kg-worker"]),
        .executable(name: "kg-sample", targets: ["kg-sample"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Test-only: the deployment kit's tests parse deploy/compose/compose.yaml.
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // bcrypt in the gateway (issue 14): passwords are verified and hashed here, never sent to PostgreSQL.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        // SHA-256 digests beside saved backups (issue 17); already pinned through swift-nio-ssl's tree.
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // Thin wrappers over the C libraries (Debian -dev packages).
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CRabbitMQ", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", providers: [.apt(["libzstd-dev"])]),

        // Pure logic: the backup format, integrity rules, naming, progress. No I/O but byte buffers.
        .target(name: "KGFormat", dependencies: ["CZlib", "CZstd"]),
        // PostgreSQL access (libpq): connections, COPY, migrations, the job and user stores.
        .target(name: "KGDatabase", dependencies: ["CLibPQ", "KGFormat"]),
        // RabbitMQ (rabbitmq-c): job queue and status topic, each connection on its own thread.
        .target(name: "KGBroker", dependencies: ["CRabbitMQ"]),
        // What gateway and worker share: configuration, temp storage, job model, logging.
        .target(
            name: "KGService",
            dependencies: [
                "KGFormat", "KGDatabase", "KGBroker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        // Deterministic sample graphs for the demo, the tests and the benchmark.
        .target(name: "KGSample", dependencies: ["KGFormat", "KGDatabase"]),
        .target(
            name: "KGWorker",
            dependencies: [
                "KGService", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .target(
            name: "KGGateway",
            dependencies: [
                "KGService",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // HTTPS (issue 7) and /metrics.
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ]),
        // age encryption (age-encryption.org/v1) of backups on the user's machine: the framing is ours,
        // the primitives swift-crypto's (X25519, ChaCha20-Poly1305, HKDF, HMAC, scrypt).
        .target(
            name: "KGAge",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]),
        // The CLI's HTTP client (libcurl): streaming up and down with progress callbacks.
        .target(name: "KGClient", dependencies: ["CCurl"]),
        .target(
            name: "KGCLI",
            dependencies: [
                "KGFormat", "KGClient", "KGAge",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]),

        .executableTarget(name: "kg", dependencies: ["KGCLI"]),
        .executableTarget(
            name: "kg-gateway",
            dependencies: [
                "KGGateway", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "kg-worker",
            dependencies: [
                "KGWorker", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),
        .executableTarget(
            name: "kg-sample",
            dependencies: [
                "KGSample", "KGService", "KGWorker", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // What the test targets share: a seeded generator, a TCP proxy that cuts and counts.
        .target(name: "KGTestSupport", dependencies: ["KGFormat", "CZlib"], path: "Tests/KGTestSupport"),
        .testTarget(name: "KGFormatTests", dependencies: ["KGFormat", "KGTestSupport"]),
        .testTarget(name: "KGAgeTests", dependencies: ["KGAge"]),
        .testTarget(name: "KGBrokerTests", dependencies: ["KGBroker", "KGTestSupport"]),
        .testTarget(name: "KGClientTests", dependencies: ["KGClient", "KGTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "KGGatewayTests",
            dependencies: [
                "KGGateway", "KGTestSupport",
                // In-process router tests (`app.test(.router)`): the gateway's refusals that need no database.
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]),
        .testTarget(name: "KGServiceTests", dependencies: ["KGService"]),
        // The worker's job logic without processes: plans, progress arithmetic, failure kinds, restore stages.
        .testTarget(
            name: "KGWorkerTests",
            dependencies: [
                "KGWorker", "KGFormat", "KGDatabase", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(
            name: "KGIntegrationTests",
            dependencies: [
                "KGFormat", "KGDatabase", "KGSample", "KGClient", "KGBroker", "KGService", "KGTestSupport",
                .product(name: "Yams", package: "Yams"),
            ]),
    ]
)
