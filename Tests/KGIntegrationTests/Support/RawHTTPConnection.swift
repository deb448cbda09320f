import Foundation

/// A plain TCP connection for tests that must misbehave on the wire (send half a
/// request and wait) or watch exactly when the server closes.
final class RawHTTPConnection {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw StackError("socket() failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            throw StackError("connect to 127.0.0.1:\(port) failed")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        try send(Data(text.utf8))
    }

    func send(_ data: Data) throws {
        let bytes = [UInt8](data)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw StackError("write failed (the server closed the connection?)") }
            offset += n
        }
    }

    enum ReadResult: Equatable {
        case data(String)
        /// The server closed the connection (EOF or reset).
        case closed
        /// Nothing arrived within the time asked.
        case timedOut
    }

    /// Waits up to `timeout` seconds for bytes or for the server to close.
    func read(timeout: Double) -> ReadResult {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&pfd, 1, Int32(timeout * 1000))
        if ready == 0 { return .timedOut }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { return .closed }
        return .data(String(decoding: buffer[0..<n], as: UTF8.self))
    }

    /// Sends `text` one byte every `interval` seconds (never idle long, never
    /// done: a trickling slow-loris) until the server closes the connection or
    /// `limit` seconds pass; returns when it closed (nil: still open) and what arrived.
    func trickle(_ text: String, every interval: Double, limit: Double) -> (seconds: Double?, received: String) {
        let start = Date()
        var received = ""
        for byte in Array(text.utf8) {
            if Date().timeIntervalSince(start) > limit { return (nil, received) }
            var one = byte
            // MSG_NOSIGNAL: a write to a closed socket fails instead of raising SIGPIPE.
            if Foundation.send(fd, &one, 1, Int32(MSG_NOSIGNAL)) != 1 { return (Date().timeIntervalSince(start), received) }
            switch read(timeout: interval) {
            case .data(let answer): received += answer
            case .closed: return (Date().timeIntervalSince(start), received)
            case .timedOut: break
            }
        }
        return (nil, received)
    }

    /// Reads until the server closes; returns how long that took and what arrived (nil: still open after `limit`).
    func secondsUntilClosed(limit: Double) -> (seconds: Double?, received: String) {
        let start = Date()
        var received = ""
        while Date().timeIntervalSince(start) < limit {
            switch read(timeout: max(0.01, limit - Date().timeIntervalSince(start))) {
            case .data(let text): received += text
            case .closed: return (Date().timeIntervalSince(start), received)
            case .timedOut: return (nil, received)
            }
        }
        return (nil, received)
    }
}
