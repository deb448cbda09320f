import Foundation
import XCTest

@testable import KGService

/// The settings table (`ServiceConfig.settings`) drives loading and `--help`: these check the
/// parsing by type, the precedence of the sources and the refusals, with real files and environments.
/// The config examples and the docs are checked against the table in `DeployKitTests`.
final class ServiceSettingsTests: XCTestCase {
    private var files: [String] = []

    override func tearDown() {
        for file in files { unlink(file) }
        files = []
    }

    private func configFile(_ json: String) throws -> String {
        let path = NSTemporaryDirectory() + "kg-settings-\(UUID().uuidString).json"
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        files.append(path)
        return path
    }

    private func loadError(file json: String? = nil, _ environment: [String: String] = [:]) throws -> String {
        let path = try json.map(configFile)
        do {
            _ = try ServiceConfig.load(path: path, environment: environment)
        } catch {
            return "\(error)"
        }
        XCTFail("the load succeeded")
        return ""
    }

    func testEachKeyAndVariableIsDeclaredOnce() {
        let keys = ServiceConfig.settings.map(\.key)
        let variables = ServiceConfig.settings.map(\.env)
        XCTAssertEqual(Set(keys).count, keys.count, "a key declared twice")
        XCTAssertEqual(Set(variables).count, variables.count, "a variable declared twice")
        for setting in ServiceConfig.settings {
            XCTAssertTrue(setting.env.hasPrefix("KG_"), setting.env)
            XCTAssertTrue(setting.key.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" }, setting.key)
            XCTAssertFalse(setting.help.contains("(default"), "\(setting.key): the default is appended from the property, not written in the help")
        }
    }

    /// Every setting reads back the value it shows as its default: each type's parser and display agree.
    func testEverySettingParsesTheDefaultItShows() throws {
        let defaults = ServiceConfig()
        for setting in ServiceConfig.settings {
            guard let shown = setting.valueText(in: defaults), shown != "none", !shown.hasSuffix("iB") else { continue }
            var config = defaults
            try setting.store(&config, shown, "test")
            XCTAssertEqual(setting.valueText(in: config), shown, setting.key)
        }
    }

    func testHelpListsEverySettingWithTheDefaultOfItsProperty() {
        let lines = ServiceConfig.helpText.split(separator: "\n")
        XCTAssertEqual(lines.count, ServiceConfig.settings.count + 1)
        for setting in ServiceConfig.settings {
            XCTAssertTrue(lines.contains { $0.hasPrefix("  \(setting.key) / \(setting.env): ") }, "\(setting.key) is cut")
        }
        func line(_ key: String) -> String { String(lines.first { $0.hasPrefix("  \(key) ") } ?? "") }
        XCTAssertTrue(line("port").hasSuffix("gateway listen port (default 8080)"), line("port"))
        XCTAssertEqual(line("port"), "  port / KG_GATEWAY_PORT: gateway listen port (default 8080)")
        XCTAssertTrue(line("max_upload_bytes").hasSuffix("(default 8 GiB)"), line("max_upload_bytes"))
        XCTAssertTrue(line("progress_interval_s").hasSuffix("(default 0.25)"), line("progress_interval_s"))
        XCTAssertTrue(line("worker_id").hasSuffix("(default host-pid)"), line("worker_id"))
        XCTAssertFalse(line("admin_password_file").contains("(default"), "a setting without default shows none")
    }

    func testTheEnvironmentOverridesTheFileAndAnEmptyVariableCountsAsUnset() throws {
        let file = try configFile(
            """
            {"_comment": "ignored", "port": 9000, "host": "0.0.0.0", "progress_interval_s": 0.5,
             "amqp_urls": ["amqp://a/%2f", " amqp://b/%2f "], "trusted_proxies": "10.0.0.0/8, 127.0.0.1", "admin_username": null}
            """)
        var config = try ServiceConfig.load(path: file, environment: ["KG_GATEWAY_PORT": "9100", "KG_GATEWAY_HOST": ""])
        XCTAssertEqual(config.port, 9100, "the variable wins")
        XCTAssertEqual(config.host, "0.0.0.0", "an empty variable leaves the file's value")
        XCTAssertEqual(config.progressIntervalSeconds, 0.5)
        XCTAssertEqual(config.amqpURLs, ["amqp://a/%2f", "amqp://b/%2f"], "a JSON list, trimmed")
        XCTAssertEqual(config.brokerURLs, ["amqp://a/%2f", "amqp://b/%2f"])
        XCTAssertEqual(config.trustedProxies, ["10.0.0.0/8", "127.0.0.1"])
        XCTAssertNil(config.adminUsername, "null is unset")
        XCTAssertEqual(config.maxUploadBytes, 8 * 1024 * 1024 * 1024, "what neither gives keeps its default")

        // KG_CONFIG names the file when --config does not.
        config = try ServiceConfig.load(path: nil, environment: ["KG_CONFIG": file, "KG_AMQP_URLS": "amqp://c/%2f,,"])
        XCTAssertEqual(config.port, 9000)
        XCTAssertEqual(config.amqpURLs, ["amqp://c/%2f"])
        XCTAssertEqual(try ServiceConfig.load(path: nil, environment: ["KG_MAX_ATTEMPTS": "5.7"]).maxAttempts, 5, "a fraction is dropped")
    }

    func testRefusalsNameTheSettingTheSourceAndTheValue() throws {
        let file = try configFile(#"{"port": "eighty"}"#)
        XCTAssertTrue(try loadError(file: #"{"port": "eighty"}"#).hasSuffix(#"must be a number, got "eighty""#))
        XCTAssertTrue(try loadError(["KG_GATEWAY_PORT": "x"]).contains(#"port in environment must be a number, got "x""#))
        XCTAssertTrue(try loadError(["KG_MAX_ATTEMPTS": "1e300"]).contains(#"max_attempts in environment must be a number, got "1e300""#))
        XCTAssertTrue(try loadError(file: #"{"prot": 1}"#).contains(#"unknown key "prot" in "#))
        XCTAssertTrue(try loadError(file: #"{"prot": 1}"#).contains("known keys: database_url, amqp_url,"))
        XCTAssertTrue(try loadError(file: "[1]").hasSuffix("is not a JSON object"))
        XCTAssertTrue(
            try loadError(["KG_CONFIG": file + ".missing"]).contains(
                "cannot read config file \(file).missing: check the path (--config or KG_CONFIG)"))
        let refusals: [(String, String, String)] = [
            ("KG_BROKER_QUEUE_TYPE", "stream", #"broker_queue_type in environment must be classic or quorum, got "stream""#),
            ("KG_TLS_MINIMUM_VERSION", "1.1", #"tls_minimum_version must be 1.2 or 1.3, not "1.1" (TLS 1.0 and 1.1 are not offered)"#),
            ("KG_LOGIN_FAILURE_WINDOW", "0", "login_failure_window_s in environment must be more than 0 seconds, got 0"),
            ("KG_ID_CHECK_MEMORY_BYTES", "0", "id_check_memory_bytes in environment must be a positive number of bytes, got 0"),
            ("KG_AUDIT_RETENTION_DAYS", "-1", "audit_retention_days in environment must be 0 (keep for ever) or a number of days, got -1"),
            ("KG_LOG_LEVEL", "loud", "log_level"),
            ("KG_LOG_LEVELS", "nobody=debug", #"log_levels: unknown component "nobody""#),
            ("KG_TRUSTED_PROXIES", "10.0.0.0/99", "(in environment)"),
        ]
        for (variable, value, message) in refusals {
            let error = try loadError([variable: value])
            XCTAssertTrue(error.contains(message), "\(variable)=\(value): \(error)")
        }
        // A refusal in a file names the file.
        XCTAssertTrue(try loadError(file: #"{"broker_queue_type": "stream"}"#).contains("broker_queue_type in \(NSTemporaryDirectory())"))
    }
}
