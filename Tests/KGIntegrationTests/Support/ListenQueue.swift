import Foundation

/// The kernel's accept queue of a listening TCP socket on loopback: connections whose
/// handshake is complete and that the server has not yet accepted. Read from
/// `/proc/net/tcp`, where a listening socket's `rx_queue` is that queue's length.
enum ListenQueue {
    /// Connections waiting for `accept` on `port` (0 when nothing listens there).
    static func length(port: Int) -> Int {
        let table = (try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8)) ?? ""
        let wanted = String(format: "%04X", port)
        for line in table.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            // sl, local_address, rem_address, st, tx_queue:rx_queue, …; st 0A is LISTEN.
            guard fields.count > 4, fields[3] == "0A", fields[1].hasSuffix(":" + wanted) else { continue }
            return Int(fields[4].split(separator: ":").last ?? "", radix: 16) ?? 0
        }
        return 0
    }

    /// Waits until the queue on `port` is empty or `limit` seconds pass; returns the seconds waited.
    static func waitUntilDrained(port: Int, limit: Double) -> Double {
        let start = Date()
        while length(port: port) > 0, Date().timeIntervalSince(start) < limit { usleep(10_000) }
        return Date().timeIntervalSince(start)
    }
}
