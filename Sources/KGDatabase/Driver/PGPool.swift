import Foundation

/// A fixed set of PostgreSQL connections, each owned by its own OS thread, for
/// async callers (the gateway). Blocking libpq calls run on those threads and
/// never on Swift's cooperative pool.
///
/// ```swift
/// let pool = PGPool(url: databaseURL, size: 4)
/// let count = try await pool.run { db in try db.query("SELECT count(*) AS n FROM kg.concepts").first("n") }
/// ```
public final class PGPool: @unchecked Sendable {
    // `queue`, `closed` are guarded by `condition`; each connection is touched only by its thread.
    private let condition = NSCondition()
    private var queue: [(PGConnection?) -> Void] = []
    private var closed = false
    private var threads: [Thread] = []
    public let url: String

    public init(url: String, size: Int, applicationName: String = "kg-gateway") {
        self.url = url
        for index in 0..<max(1, size) {
            let thread = Thread { [weak self] in self?.serve(applicationName: applicationName) }
            thread.name = "kg-db-\(index)"
            thread.start()
            threads.append(thread)
        }
    }

    deinit { shutdown() }

    public func shutdown() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }

    /// Runs `body` with a connection on one of the pool's threads.
    public func run<T: Sendable>(_ body: @escaping @Sendable (PGConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            enqueue { connection in
                guard let connection else {
                    continuation.resume(throwing: PGError(sqlState: "08001", "cannot connect to PostgreSQL at \(PGConnection.redacted(self.url))"))
                    return
                }
                continuation.resume(with: Result { try body(connection) })
            }
        }
    }

    private func enqueue(_ work: @escaping (PGConnection?) -> Void) {
        condition.lock()
        if closed {
            condition.unlock()
            work(nil)
            return
        }
        queue.append(work)
        condition.signal()
        condition.unlock()
    }

    private func serve(applicationName: String) {
        var connection: PGConnection?
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty && closed {
                condition.unlock()
                connection?.close()
                return
            }
            let work = queue.removeFirst()
            condition.unlock()
            // Reconnect lazily: a database restart costs one failed request, not the process.
            if connection == nil || connection?.isOK == false {
                connection?.close()
                connection = try? PGConnection(url: url, applicationName: applicationName)
            }
            work(connection)
        }
    }
}
