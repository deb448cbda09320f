import Foundation
import KGBroker
import XCTest

struct BrokerNotConfigured: Error, CustomStringConvertible {
    var description: String { "KG_AMQP_URL is not set" }
}

/// The broker the tests use, from KG_AMQP_URL; the test fails (not skips) without it.
enum TestBroker {
    static func url(file: StaticString = #filePath, line: UInt = #line) throws -> AMQPURL {
        guard let raw = ProcessInfo.processInfo.environment["KG_AMQP_URL"], !raw.isEmpty else {
            XCTFail(
                """
                KG_AMQP_URL is not set. These tests need a running RabbitMQ: start one with \
                `deploy/local/services.sh start` and run \
                `KG_AMQP_URL=amqp://guest:guest@127.0.0.1:55672/%2f swift test` (`make test` sets it).
                """, file: file, line: line)
            throw BrokerNotConfigured()
        }
        return try AMQPURL(raw)
    }

    /// A name no other test run uses.
    static func unique(_ base: String) -> String {
        "\(base).\(UUID().uuidString.lowercased())"
    }

    /// A topology under a unique prefix, declared; delete it with `cleanUp`.
    static func topology(queueType: String = "classic") throws -> JobTopology {
        let topology = JobTopology(prefix: unique("kgtest"), queueType: queueType)
        let connection = try AMQPConnection(url: try url())
        defer { connection.close() }
        try topology.declare(on: connection)
        return topology
    }

    static func cleanUp(_ topology: JobTopology) {
        guard let connection = try? AMQPConnection(url: try url()) else { return }
        defer { connection.close() }
        try? topology.delete(on: connection)
    }

    /// A TCP port on 127.0.0.1 where nothing listens (bound and released at once).
    static func closedPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Polls `condition` until true or `timeout`; returns the last value.
    static func eventually(timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }
}

/// A thread-safe list, for collecting what callbacks saw.
final class Collected<Element: Sendable>: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var items: [Element] = []

    func append(_ item: Element) {
        lock.lock()
        items.append(item)
        lock.unlock()
    }

    var all: [Element] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }

    var count: Int { all.count }
}

extension String {
    var bytes: [UInt8] { Array(utf8) }
}
