import Foundation

/// Many slow clients on one thread: each connection sends its `head` at once, then
/// one byte of its `trickle` every `interval` (never idle, never done), until the
/// server closes it or `limit` seconds pass. Records when each was closed and
/// whether it got an answer first.
final class SlowSwarm {
    struct Outcome {
        /// Seconds from the start until the server closed it (nil: still open at the limit).
        var closedAfter: Double?
        var received = ""
    }

    private var connections: [(connection: RawHTTPConnection, trickle: [UInt8], sent: Int)] = []
    private(set) var outcomes: [Outcome] = []
    /// Connections that could not be opened (the server, or this process, ran out of descriptors).
    private(set) var refused = 0

    init(port: Int, count: Int, head: (Int) -> String, trickle: String) {
        for i in 0..<count {
            guard let connection = try? RawHTTPConnection(port: port), (try? connection.send(head(i))) != nil else {
                refused += 1
                continue
            }
            connections.append((connection, Array(trickle.utf8), 0))
            outcomes.append(Outcome())
        }
    }

    var opened: Int { connections.count }

    /// Trickles until every connection is closed or `limit` seconds pass; `sample` runs each round.
    func run(interval: Double, limit: Double, sample: () -> Void = {}) {
        let start = Date()
        while Date().timeIntervalSince(start) < limit {
            var open = 0
            for i in connections.indices where outcomes[i].closedAfter == nil {
                let fd = connections[i].connection.fd
                // Whatever arrived, without waiting.
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                if poll(&pfd, 1, 0) > 0 {
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n <= 0 {
                        outcomes[i].closedAfter = Date().timeIntervalSince(start)
                        continue
                    }
                    outcomes[i].received += String(decoding: buffer[0..<n], as: UTF8.self)
                }
                var byte = connections[i].trickle[connections[i].sent % connections[i].trickle.count]
                if send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) != 1 {
                    outcomes[i].closedAfter = Date().timeIntervalSince(start)
                    continue
                }
                connections[i].sent += 1
                open += 1
            }
            sample()
            if open == 0 { return }
            usleep(UInt32(interval * 1_000_000))
        }
    }

    var stillOpen: Int { outcomes.filter { $0.closedAfter == nil }.count }
    var slowestClose: Double { outcomes.compactMap(\.closedAfter).max() ?? 0 }
    func answered(_ prefix: String) -> Int { outcomes.filter { $0.received.hasPrefix(prefix) }.count }
}
