// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "kg",
    platforms: [.macOS(.v14)],
    targets: [
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CRabbitMQ", providers: [.apt(["librabbitmq-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "KGFormat", dependencies: ["CZlib"]),
        .target(name: "KGBroker", dependencies: ["CRabbitMQ"]),
        .target(name: "KGClient", dependencies: ["CCurl"]),
        .testTarget(name: "KGFormatTests", dependencies: ["KGFormat"]),
        .testTarget(name: "KGBrokerTests", dependencies: ["KGBroker"]),
        .testTarget(name: "KGClientTests", dependencies: ["KGClient"]),
    ]
)
