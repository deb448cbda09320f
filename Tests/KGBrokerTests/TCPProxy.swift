import Foundation

/// A TCP forwarder from 127.0.0.1:<port> to the broker, so tests can cut connections and make
/// the "broker" unreachable without touching the shared RabbitMQ.
final class TCPProxy: @unchecked Sendable {
    // Thread-safety: `open`, `down` and `stopped` are guarded by `lock`; each pump thread owns
    // nothing but the two descriptors it copies between.
    let port: Int
    private let targetHost: String
    private let targetPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var open: Set<Int32> = []
    private var down = false
    private var stopped = false

    init(targetHost: String, targetPort: Int) throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.address("127.0.0.1", 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Closes every forwarded connection (both sides), like a network failure or broker crash.
    func cutConnections() {
        lock.lock()
        let fds = open
        lock.unlock()
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// While down, new connections are closed at once (the broker looks unreachable).
    func setDown(_ value: Bool) {
        lock.lock()
        down = value
        lock.unlock()
        if value { cutConnections() }
    }

    func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        cutConnections()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            lock.lock()
            let (isStopped, isDown) = (stopped, down)
            lock.unlock()
            if client < 0 || isStopped {
                if client >= 0 { close(client) }
                return
            }
            if isDown {
                close(client)
                continue
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.address(targetHost, targetPort)
            let connected = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 else {
                close(client)
                close(upstream)
                continue
            }
            lock.lock()
            open.formUnion([client, upstream])
            lock.unlock()
            let finished = DispatchGroup()
            for (from, to) in [(client, upstream), (upstream, client)] {
                finished.enter()
                Thread.detachNewThread { [self] in
                    pump(from: from, to: to)
                    finished.leave()
                }
            }
            finished.notify(queue: .global()) { [self] in
                lock.lock()
                open.subtract([client, upstream])
                lock.unlock()
                close(client)
                close(upstream)
            }
        }
    }

    private func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            var sent = 0
            while sent < n {
                let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + sent, n - sent) }
                if w <= 0 { break }
                sent += w
            }
            if sent < n { break }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
    }

    private static func address(_ host: String, _ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr(host == "localhost" ? "127.0.0.1" : host)
        address.sin_port = UInt16(port).bigEndian
        return address
    }
}
