import XCTest
@testable import KGService

final class SecretRedactionTests: XCTestCase {
    func testURLPasswordsAreMasked() {
        XCTAssertEqual(SecretRedaction.url("postgresql://kg:s3cret-pw@db:5432/kg"), "postgresql://kg:***@db:5432/kg")
        XCTAssertEqual(SecretRedaction.url("amqp://guest:guest@127.0.0.1:5672/%2f"), "amqp://guest:***@127.0.0.1:5672/%2f")
        XCTAssertEqual(
            SecretRedaction.url("postgresql://kg@db/kg?password=abc123&sslmode=require"),
            "postgresql://kg@db/kg?password=***&sslmode=require")
        XCTAssertEqual(SecretRedaction.url("host=db user=kg password=s3cret dbname=kg"), "host=db user=kg password=*** dbname=kg")
        XCTAssertEqual(SecretRedaction.url("postgresql://kg@db/kg"), "postgresql://kg@db/kg", "nothing to hide")
        XCTAssertEqual(SecretRedaction.url("postgresql://kg:p@ss word@db/kg"), "postgresql://kg:***@db/kg", "not a valid URL, still cut")
    }

    func testSecretsOfAConfig() {
        var config = ServiceConfig()
        config.databaseURL = "postgresql://kg:db-pass%21@db/kg"
        config.amqpURL = "amqp://jobs:broker-pass@mq/%2f"
        config.adminPassword = "admin-pass"
        let secrets = Set(SecretRedaction.secrets(of: config))
        XCTAssertTrue(secrets.isSuperset(of: ["db-pass%21", "db-pass!", "broker-pass", "admin-pass"]), "\(secrets)")
        config.databaseURL = "host=db password=kv-secret"
        XCTAssertTrue(SecretRedaction.secrets(of: config).contains("kv-secret"))
    }

    func testTheLogHandlerMasksMessagesAndMetadata() {
        let sink = CapturedLines()
        var handler = RedactingLogHandler(base: CapturingLogHandler(sink: sink), secrets: ["topsecret", "ab"])
        handler.logLevel = .trace
        handler[metadataKey: "url"] = "postgresql://kg:topsecret@db/kg"
        handler.log(
            level: .info, message: "connecting with topsecret (ab stays: too short to be a secret)",
            metadata: ["nested": .dictionary(["k": .array([.string("x-topsecret-y")])])],
            source: "t", file: #file, function: #function, line: #line)
        let line = sink.lines.joined()
        XCTAssertFalse(line.contains("topsecret"), line)
        XCTAssertTrue(line.contains("connecting with ***"), line)
        XCTAssertTrue(line.contains("kg:***@db"), line)
        XCTAssertTrue(line.contains("x-***-y"), line)
        XCTAssertTrue(line.contains("(ab stays"), line)
    }
}
