import Foundation
import KGDatabase
import KGFormat
import KGTestSupport
import XCTest

/// Starting and stopping the services.
final class ServiceLifecycleTests: XCTestCase {
    func testWorkersAndGatewayStopOnSIGTERM() throws {
        let stack = try TestStack()
        defer { stack.stop() }
        let worker = try XCTUnwrap(stack.workers["w1"])
        worker.signal(SIGTERM)
        let deadline = Date().addingTimeInterval(10)
        while worker.isRunning && Date() < deadline { usleep(50_000) }
        XCTAssertFalse(worker.isRunning, "the worker stops on SIGTERM")
        XCTAssertEqual(worker.process.terminationStatus, 0)
        XCTAssertTrue(worker.log.contains("worker stopped"), worker.log)
        let gateway = stack.gateways[0]
        gateway.signal(SIGTERM)
        while gateway.isRunning && Date() < deadline.addingTimeInterval(5) { usleep(50_000) }
        XCTAssertFalse(gateway.isRunning, "the gateway stops on SIGTERM")
    }

    func testServicesRefuseADatabaseBehindTheirMigrations() throws {
        let adminURL = try TestEnvironment.adminDatabaseURL()
        let name = "kg_behind_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PGConnection(url: adminURL)
        try admin.execute("CREATE DATABASE \(name) OWNER kg")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        var components = URLComponents(string: try TestEnvironment.databaseURL())!
        components.path = "/\(name)"
        let url = components.string!
        let db = try PGConnection(url: url)
        try MigrationRunner(connection: db).migrate(try Migration.load(from: TestEnvironment.migrationsDir()), upTo: 3)
        db.close()
        let env = [
            "PATH": "/usr/bin:/bin", "KG_DATABASE_URL": url, "KG_AMQP_URL": try TestEnvironment.amqpURL(),
            "KG_MIGRATIONS_DIR": TestEnvironment.migrationsDir(), "KG_TEMP_DIR": NSTemporaryDirectory() + name,
            "KG_GATEWAY_PORT": String(freePort()),
        ]
        let bin = try TestEnvironment.binDir()
        let migrations = try Migration.load(from: TestEnvironment.migrationsDir())
        let latest = try XCTUnwrap(migrations.last?.version)
        for (tool, arguments) in [("kg-worker", ["run"]), ("kg-gateway", ["serve"])] {
            let r = try runCommand(bin + "/" + tool, arguments, environment: env)
            XCTAssertEqual(r.exitCode, 1, "\(tool): \(r.summary)")
            XCTAssertTrue(r.stderr.contains("schema version 3 but this build needs \(latest)"), "\(tool): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains("\(tool) migrate"), "\(tool) names the command: \(r.stderr)")
        }
        // The migration applies the rest, and records each step.
        let migrate = try runCommand(bin + "/kg-gateway", ["migrate"], environment: env)
        XCTAssertEqual(migrate.exitCode, 0, migrate.summary)
        let check = try PGConnection(url: url)
        defer { check.close() }
        let rows = try check.query("SELECT version, description, applied_at IS NOT NULL AS stamped FROM kg_api.schema_migrations ORDER BY version")
            .rows
        XCTAssertEqual(rows.map { $0[0]! }, migrations.map { String($0.version) })
        XCTAssertEqual(rows.last?[1], migrations.last?.name)
        XCTAssertTrue(rows.allSatisfy { $0[2] == "t" })
    }

    func testConcurrentMigrationsAreSafe() throws {
        let adminURL = try TestEnvironment.adminDatabaseURL()
        let name = "kg_race_\(UInt32.random(in: 0...UInt32.max))"
        let admin = try PGConnection(url: adminURL)
        try admin.execute("CREATE DATABASE \(name) OWNER kg")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
        var components = URLComponents(string: try TestEnvironment.databaseURL())!
        components.path = "/\(name)"
        let env = ["PATH": "/usr/bin:/bin", "KG_DATABASE_URL": components.string!, "KG_MIGRATIONS_DIR": TestEnvironment.migrationsDir()]
        let bin = try TestEnvironment.binDir()
        let processes = try (0..<3).map { i in
            try ManagedProcess(
                name: "migrate-\(i)", executable: bin + "/kg-gateway", arguments: ["migrate"], environment: env,
                logDir: NSTemporaryDirectory())
        }
        for p in processes { p.process.waitUntilExit() }
        XCTAssertTrue(processes.allSatisfy { $0.process.terminationStatus == 0 }, processes.map(\.log).joined())
        let db = try PGConnection(url: components.string!)
        defer { db.close() }
        let migrations = try Migration.load(from: TestEnvironment.migrationsDir())
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg_api.schema_migrations").first("n"), String(migrations.count))
    }
}
