import Foundation
import KGBroker
import KGService
import XCTest

/// Passwords come from files (or the environment), never from the command line, and never
/// appear in logs: `database_password_file`, `amqp_password_file`, `admin_password_file`.
final class SecretSettingsTests: XCTestCase {
    private var files: [String] = []

    override func tearDown() {
        for file in files { unlink(file) }
        files = []
        super.tearDown()
    }

    private func secretFile(_ content: String) throws -> String {
        let path = NSTemporaryDirectory() + "kg-secret-" + UUID().uuidString
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        files.append(path)
        return path
    }

    // MARK: loading (no services)

    func testPasswordFilesReplaceTheURLsPasswordsPercentEncoded() throws {
        let secret = "p@ss:w/rd %?#&é"
        let config = try ServiceConfig.load(
            path: nil,
            environment: [
                "KG_DATABASE_URL": "postgresql://kg@db:5432/kg?sslmode=prefer",
                "KG_DATABASE_PASSWORD_FILE": try secretFile(secret + "\n"),
                "KG_AMQP_URL": "amqp://kg:old@rabbitmq:5672/%2f",
                "KG_AMQP_PASSWORD_FILE": try secretFile(secret),
                "KG_ADMIN_PASSWORD_FILE": try secretFile("admin-secret\r\n"),
            ])
        XCTAssertEqual(config.databaseURL, "postgresql://kg:p%40ss%3Aw%2Frd%20%25%3F%23%26%C3%A9@db:5432/kg?sslmode=prefer")
        XCTAssertEqual(URLComponents(string: config.databaseURL)?.password, secret)
        let amqp = try AMQPURL(config.amqpURL)
        XCTAssertEqual(amqp.user, "kg")
        XCTAssertEqual(amqp.password, secret)
        XCTAssertEqual(amqp.host, "rabbitmq")
        XCTAssertEqual(config.adminPassword, "admin-secret")
    }

    func testAFileWinsOverAnInlinePasswordFromAnySource() throws {
        let configFile = try secretFile(
            """
            {"admin_username": "admin", "admin_password_file": "\(try secretFile("from-file"))",
             "amqp_url": "amqp://guest:inline@127.0.0.1:5672/%2f", "amqp_password_file": "\(try secretFile("guest"))"}
            """)
        let config = try ServiceConfig.load(path: configFile, environment: ["KG_ADMIN_PASSWORD": "inline"])
        XCTAssertEqual(config.adminPassword, "from-file")
        XCTAssertEqual(try AMQPURL(config.amqpURL).password, "guest")
    }

    func testMissingOrEmptySecretFilesFailWithTheKeyAndPath() throws {
        XCTAssertThrowsError(try ServiceConfig.load(path: nil, environment: ["KG_DATABASE_PASSWORD_FILE": "/nonexistent/db-password"])) {
            XCTAssertTrue("\($0)".contains("database_password_file /nonexistent/db-password"), "\($0)")
        }
        let empty = try secretFile("\n")
        XCTAssertThrowsError(try ServiceConfig.load(path: nil, environment: ["KG_AMQP_PASSWORD_FILE": empty])) {
            XCTAssertTrue("\($0)".contains("amqp_password_file \(empty) is empty"), "\($0)")
        }
        XCTAssertThrowsError(
            try ServiceConfig.load(
                path: nil,
                environment: [
                    "KG_DATABASE_URL": "host=db dbname=kg", "KG_DATABASE_PASSWORD_FILE": try secretFile("x"),
                ])
        ) { XCTAssertTrue("\($0)".contains("database_url must be a URL"), "\($0)") }
        XCTAssertThrowsError(try ServiceConfig.load(path: nil, environment: ["KG_BROKER_QUEUE_TYPE": "stream"])) {
            XCTAssertTrue("\($0)".contains("broker_queue_type in environment must be classic or quorum"), "\($0)")
        }
    }

    /// The masking itself is unit-tested in KGServiceTests (`SecretRedactionTests`).
    func testLoggedSettingsHideThePassword() throws {
        XCTAssertEqual(SecretRedaction.url("postgresql://kg:s3cr%40t@db:5432/kg"), "postgresql://kg:***@db:5432/kg")
        var config = ServiceConfig()
        config.databaseURL = "postgresql://kg:s3cret@db/kg"
        config.amqpURL = "amqp://kg:s3cret@mq/%2f"
        XCTAssertFalse(config.loggableSummary.values.joined().contains("s3cret"))
    }

    // MARK: real gateway and worker

    /// The broker refuses a wrong password, so a gateway that becomes ready with a wrong password
    /// in its URL read the right one from its file. PostgreSQL here trusts loopback, so for the
    /// database the test shows that an awkward password keeps the URL usable and stays out of logs.
    func testServicesUsePasswordFilesAndNeverLogThem() throws {
        let amqp = try AMQPURL(try TestEnvironment.amqpURL())
        var wrong = URLComponents(string: try TestEnvironment.amqpURL())!
        wrong.password = "not-the-password"
        let databaseSecret = "db-\(UUID().uuidString.prefix(8))@:/%"
        let stack = try TestStack(
            workers: 1,
            environment: [
                "KG_AMQP_URL": wrong.string!,
                "KG_AMQP_PASSWORD_FILE": try secretFile(amqp.password + "\n"),
                "KG_DATABASE_PASSWORD_FILE": try secretFile(databaseSecret + "\n"),
                "KG_ADMIN_PASSWORD": "",
                "KG_ADMIN_PASSWORD_FILE": try secretFile("admin-\(UUID().uuidString)"),
            ])
        defer { stack.stop() }
        let worker = try XCTUnwrap(stack.workers["w1"])
        XCTAssertTrue(TestBroker.eventually(timeout: 20) { worker.log.contains("worker started") }, worker.log)
        let logs = stack.gateways.map(\.log).joined() + worker.log
        XCTAssertTrue(logs.contains("postgresql://kg:***@"), logs)
        // The log filter masks the password wherever it appears: with guest:guest that includes the user.
        XCTAssertTrue(logs.contains("amqp://\(amqp.user == amqp.password ? "***" : amqp.user):***@"), logs)
        for leaked in [databaseSecret, SecretURL.replacingPasswordForTests(databaseSecret), "not-the-password"] {
            XCTAssertFalse(logs.contains(leaked), "a log shows \(leaked)")
        }
        if amqp.password.count >= 8 { XCTAssertFalse(logs.contains(amqp.password)) }
    }
}

private enum TestBroker {
    static func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(50_000)
        }
        return condition()
    }
}

extension SecretURL {
    /// The percent-encoded form a password takes inside a URL.
    static func replacingPasswordForTests(_ password: String) -> String {
        let url = (try? replacingPassword(in: "x://u@h", with: password, key: "test")) ?? ""
        return String(url.dropFirst("x://u:".count).dropLast("@h".count))
    }
}
