import Foundation

/// A TCP forwarder from 127.0.0.1:<port> to a server (the broker, the gateway), so tests can
/// cut connections, make the server unreachable, cut a transfer at a chosen byte, and count the
/// bytes that crossed, without touching the shared services.
public final class TCPProxy: @unchecked Sendable {
    // Thread-safety: `open`, `down`, `stopped`, the counters and the armed cut are guarded by
    // `lock`; each pump thread owns nothing but the two descriptors it copies between.
    public let port: Int
    private let targetHost: String
    private let targetPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var open: Set<Int32> = []
    private var down = false
    private var stopped = false
    private var forwarded = (toTarget: 0, toClient: 0)
    private var armedCut: (toClient: Bool, remaining: Int)?

    public init(targetHost: String, targetPort: Int) throws {
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
    public func cutConnections() {
        lock.lock()
        let fds = open
        lock.unlock()
        for fd in fds { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    /// While down, new connections are closed at once (the broker looks unreachable).
    public func setDown(_ value: Bool) {
        lock.lock()
        down = value
        lock.unlock()
        if value { cutConnections() }
    }

    /// Bytes forwarded so far, client → server and server → client, over all connections.
    public var bytesForwarded: (toTarget: Int, toClient: Int) {
        lock.lock()
        defer { lock.unlock() }
        return forwarded
    }

    /// Arms a one-shot cut: after `bytes` more bytes have crossed in one direction (server →
    /// client when `toClient`), every connection is cut, exactly at that byte.
    public func cutOnce(afterBytes bytes: Int, toClient: Bool) {
        lock.lock()
        armedCut = (toClient, max(0, bytes))
        lock.unlock()
    }

    public func stop() {
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
            for (from, to, toClient) in [(client, upstream, false), (upstream, client, true)] {
                finished.enter()
                Thread.detachNewThread { [self] in
                    pump(from: from, to: to, toClient: toClient)
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

    /// How many of `n` bytes read may be forwarded before an armed cut, and whether to cut after them.
    private func allowance(_ n: Int, toClient: Bool) -> (forward: Int, cut: Bool) {
        lock.lock()
        defer { lock.unlock() }
        var forward = n
        var cut = false
        if let armed = armedCut, armed.toClient == toClient {
            forward = min(n, armed.remaining)
            cut = forward == armed.remaining
            armedCut = cut ? nil : (toClient, armed.remaining - forward)
        }
        if toClient { forwarded.toClient += forward } else { forwarded.toTarget += forward }
        return (forward, cut)
    }

    private func pump(from: Int32, to: Int32, toClient: Bool) {
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if got <= 0 { break }
            let (n, cut) = allowance(got, toClient: toClient)
            var sent = 0
            while sent < n {
                // send(MSG_NOSIGNAL): a peer that died must not raise SIGPIPE in the test process.
                let w = buffer.withUnsafeBytes { send(to, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                if w <= 0 { break }
                sent += w
            }
            if sent < n { break }
            if cut {
                cutConnections()
                break
            }
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
