import Logging
import XCTest
@testable import KGService

final class LogLevelsTests: XCTestCase {
    func testPerComponentLevels() throws {
        let levels = try LogLevels(default: "notice", perComponent: "broker=debug, kg-http=warning")
        XCTAssertEqual(levels.level(for: LogComponent.broker), .debug)
        XCTAssertEqual(levels.level(for: LogComponent.http), .warning)
        XCTAssertEqual(levels.level(for: LogComponent.gateway), .notice)
        XCTAssertEqual(levels.level(for: "kg-worker"), .notice)
    }

    func testBadValuesNameTheProblem() {
        XCTAssertThrowsError(try LogLevels(default: "loud", perComponent: "")) { error in
            XCTAssertTrue("\(error)".contains("log_level") && "\(error)".contains("loud"), "\(error)")
        }
        XCTAssertThrowsError(try LogLevels(default: "info", perComponent: "brokr=debug")) { error in
            XCTAssertTrue("\(error)".contains("brokr") && "\(error)".contains("broker"), "\(error)")
        }
        XCTAssertThrowsError(try LogLevels(default: "info", perComponent: "broker")) { error in
            XCTAssertTrue("\(error)".contains("component=level"), "\(error)")
        }
        XCTAssertThrowsError(try LogLevels(default: "info", perComponent: "broker=chatty"))
    }

    func testConfigRejectsABadLevelFromTheEnvironment() {
        XCTAssertThrowsError(try ServiceConfig.load(path: nil, environment: ["KG_LOG_LEVEL": "verbose"]))
        XCTAssertThrowsError(try ServiceConfig.load(path: nil, environment: ["KG_LOG_LEVELS": "gateway=nope"]))
        let config = try? ServiceConfig.load(
            path: nil,
            environment: [
                "KG_LOG_LEVELS": "worker=debug",
                "KG_TLS_CERTIFICATE_FILE": "/c.pem", "KG_TLS_PRIVATE_KEY_FILE": "/k.pem",
            ])
        XCTAssertEqual(config?.logLevels, "worker=debug")
        XCTAssertEqual(config?.tlsCertificateFile, "/c.pem")
        XCTAssertEqual(config?.tlsPrivateKeyFile, "/k.pem")
    }
}
