import Foundation
import XCTest

/// What the integration tests need from `make test` (scripts/test.sh): running
/// PostgreSQL and RabbitMQ, and the built binaries.
enum TestEnvironment {
    static let env = ProcessInfo.processInfo.environment

    static func require(_ name: String) throws -> String {
        guard let value = env[name], !value.isEmpty else {
            throw MissingTestSetup.missing(name)
        }
        return value
    }

    /// The PostgreSQL superuser URL (to create and drop test databases).
    static func adminDatabaseURL() throws -> String { try require("KG_ADMIN_DATABASE_URL") }
    /// The service role's URL; tests swap the database name.
    static func databaseURL() throws -> String { try require("KG_DATABASE_URL") }
    static func amqpURL() throws -> String { try require("KG_AMQP_URL") }

    static func binDir() throws -> String {
        if let dir = env["KG_BIN_DIR"], !dir.isEmpty { return dir }
        // Fallback: the package's debug build folder.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }

    static func migrationsDir() -> String {
        if let dir = env["KG_MIGRATIONS_DIR"], !dir.isEmpty { return dir }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent("schema/migrations").path
    }
}

/// Missing setup is a failure, not a skip: `make test` always provides it.
enum MissingTestSetup: Error, CustomStringConvertible {
    case missing(String)
    var description: String {
        switch self {
        case .missing(let name): return "\(name) is not set: run the tests with `make test`, which starts PostgreSQL and RabbitMQ and sets it"
        }
    }
}
