import Foundation

/// Asks the gateway a small authenticated question (`GET /auth/whoami`, which
/// reads the database to check the token) every `interval` on a fresh connection,
/// in the background, while a test attacks it; records how long each answer took.
/// A probe not answered within `timeout` counts as `timeout`.
final class ResponsivenessProbe: @unchecked Sendable {
    private let ask: @Sendable (_ timeout: Double) -> String?
    private let interval: Double
    private let timeout: Double
    private let lock = NSLock()
    private var latencies: [Double] = []
    private var failures: [String] = []
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    /// Probes with `ask`, which returns nil when answered well, else what went wrong.
    init(interval: Double = 0.1, timeout: Double = 3, ask: @escaping @Sendable (_ timeout: Double) -> String?) {
        self.ask = ask
        self.interval = interval
        self.timeout = timeout
        Thread.detachNewThread { [self] in
            while isRunning {
                measureOnce()
                usleep(UInt32(interval * 1_000_000))
            }
            done.signal()
        }
    }

    private var isRunning: Bool { lock.lock(); defer { lock.unlock() }; return running }

    /// Probes `GET /auth/whoami` with `token` over plain HTTP on a fresh connection.
    convenience init(port: Int, token: String, interval: Double = 0.1, timeout: Double = 3) {
        self.init(interval: interval, timeout: timeout) { timeout in
            ResponsivenessProbe.whoami(port: port, token: token, timeout: timeout)
        }
    }

    private func measureOnce() {
        let start = Date()
        let problem = ask(timeout)
        let seconds = min(Date().timeIntervalSince(start), timeout)
        lock.lock()
        latencies.append(problem == nil ? seconds : timeout)
        if let problem { failures.append(problem) }
        lock.unlock()
    }

    static func whoami(port: Int, token: String, timeout: Double) -> String? {
        let start = Date()
        var problem: String?
        do {
            let connection = try RawHTTPConnection(port: port)
            try connection.send("GET /auth/whoami HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\nConnection: close\r\n\r\n")
            var received = ""
            reading: while !received.contains("\r\n\r\n") {
                let left = timeout - Date().timeIntervalSince(start)
                guard left > 0 else { break }
                switch connection.read(timeout: left) {
                case .data(let text): received += text
                case .closed, .timedOut: break reading
                }
            }
            if !received.hasPrefix("HTTP/1.1 200") { problem = "answer: \(received.prefix(80).debugDescription)" }
        } catch {
            problem = "\(error)"
        }
        return problem
    }

    /// Stops probing; returns (probes, slowest answer in seconds, median, failures).
    func stop() -> (count: Int, max: Double, median: Double, failures: [String]) {
        lock.lock()
        running = false
        lock.unlock()
        done.wait()
        lock.lock()
        defer { lock.unlock() }
        let sorted = latencies.sorted()
        return (sorted.count, sorted.last ?? 0, sorted.isEmpty ? 0 : sorted[sorted.count / 2], failures)
    }
}
