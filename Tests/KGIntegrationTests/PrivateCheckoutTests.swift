import Foundation
import KGDatabase
import KGTestSupport
import XCTest

/// Issue 14, finding 9: a checkout in a folder other users cannot enter (a clone
/// under root's home, mode 700). PostgreSQL and RabbitMQ run as their own users,
/// so `deploy/local/services.sh start` keeps their state in a per-checkout folder
/// under /var/tmp (`.kg-local` links to it); an explicit KG_STATE_DIR they cannot
/// reach is refused within seconds, naming the folder and the fix. Runs the real
/// script (as root, as `make demo` does here and in CI) on ports of its own, so the
/// shared services are never touched.
final class PrivateCheckoutTests: XCTestCase {
    var privateRoot: String!
    var checkout: String!
    var environment: [String: String] = [:]

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw MissingTestSetup.missing("root (the services run as their own users only when started by root)") }
        privateRoot = NSTemporaryDirectory() + "kg-private-\(UUID().uuidString.prefix(8))"
        checkout = privateRoot + "/home/clone"
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        for folder in ["deploy/local", "config"] {
            try FileManager.default.createDirectory(atPath: "\(checkout!)/\(folder)", withIntermediateDirectories: true)
        }
        for file in ["deploy/local/services.sh", "deploy/local/lib.sh", "config/rabbitmq.conf"] {
            try FileManager.default.copyItem(atPath: "\(repo)/\(file)", toPath: "\(checkout!)/\(file)")
        }
        chmod(privateRoot + "/home", 0o700)
        environment = [
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "KG_PG_PORT": String(freePort()), "KG_AMQP_PORT": String(freePort()),
            "KG_EPMD_PORT": String(freePort()), "KG_AMQP_DIST_PORT": String(freePort()),
        ]
    }

    override func tearDown() {
        if let checkout {
            _ = try? runCommand("/bin/bash", ["\(checkout)/deploy/local/services.sh", "stop"], environment: environment, timeout: 120)
            let link = checkout + "/.kg-local"
            if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link), target.hasPrefix("/var/tmp/kg-state-") {
                try? FileManager.default.removeItem(atPath: target)
            }
        }
        if let privateRoot { try? FileManager.default.removeItem(atPath: privateRoot) }
    }

    func testServicesStartFromAPrivateCheckout() throws {
        let start = Date()
        let r = try runCommand("/bin/bash", ["\(checkout!)/deploy/local/services.sh", "start"], environment: environment, timeout: 180)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(r.exitCode, 0, r.summary)
        let link = checkout + "/.kg-local"
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: link)
        XCTAssertTrue(target.hasPrefix("/var/tmp/kg-state-"), target)
        XCTAssertTrue(r.stderr.contains(privateRoot + "/home"), "says which folder could not be entered: \(r.stderr)")
        // The services answer, with the URLs written where scripts/test.sh and stack.sh read them.
        let env = try String(contentsOfFile: link + "/services.env", encoding: .utf8)
        let admin = try XCTUnwrap(env.split(separator: "\n").first { $0.hasPrefix("KG_ADMIN_DATABASE_URL=") }?.dropFirst(22))
        let db = try PGConnection(url: String(admin), applicationName: "kg-tests")
        XCTAssertEqual(try db.query("SELECT 1 AS one").first("one"), "1")
        db.close()
        XCTAssertTrue(r.stderr.contains("RabbitMQ started"), r.stderr)
        print("PrivateCheckoutTests: services started from a mode-700 checkout in \(String(format: "%.1f", seconds)) s, state in \(target)")
    }

    func testAnUnreachableStateDirIsRefusedWithinSeconds() throws {
        var env = environment
        env["KG_STATE_DIR"] = checkout + "/state"
        let start = Date()
        let r = try runCommand("/bin/bash", ["\(checkout!)/deploy/local/services.sh", "start"], environment: env, timeout: 120)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertNotEqual(r.exitCode, 0)
        XCTAssertLessThan(seconds, 15, "refused within seconds, not after the 60 s wait for a port")
        XCTAssertTrue(r.stderr.contains(privateRoot + "/home"), "names the folder: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("cannot enter"), "says why: \(r.stderr)")
        XCTAssertTrue(r.stderr.contains("fix:") && r.stderr.contains("KG_STATE_DIR"), "says what to do: \(r.stderr)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: checkout + "/state/pg"), "nothing was started")
    }
}
