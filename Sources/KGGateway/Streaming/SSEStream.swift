import Foundation
import Hummingbird
import KGDatabase
import KGFormat
import NIOCore

/// Server-Sent Events for one job: the current state first, then every status
/// event from the broker, then one terminal event. The job row is polled as
/// well, so a lost event delays an update but never loses the end.
struct SSEStream {
    let jobID: String
    let pool: PGPool

    func run(first: String, events: AsyncStream<StatusEvent>, writer: inout any ResponseBodyWriter) async throws {
        var lastBody = first
        var status = Self.status(of: first)
        try await writer.write(Self.frame(event: Self.eventName(status), data: first))
        if status.isTerminal {
            try await writer.finish(nil)
            return
        }
        let id = jobID
        let pool = self.pool
        // Merge broker events with a slow poll of the row (and a keep-alive).
        let (merged, continuation) = AsyncStream.makeStream(of: (String, String).self)
        let pump = Task {
            for await event in events { continuation.yield((event.event, event.body)) }
        }
        let poll = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(2))
                if let json = try? await pool.run({ db in try JobStore(db).json(jobID: id) }) {
                    continuation.yield(("poll", json))
                }
            }
        }
        defer {
            pump.cancel()
            poll.cancel()
            continuation.finish()
        }
        for await (event, body) in merged {
            let current = Self.status(of: body)
            if event == "poll" {
                // Only forward a poll when it shows something the events did not.
                if body == lastBody || (!current.isTerminal && current == status) {
                    try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                    continue
                }
            }
            lastBody = body
            status = current
            try await writer.write(Self.frame(event: current.isTerminal ? current.rawValue : event, data: body))
            if current.isTerminal { break }
        }
        try await writer.finish(nil)
    }

    static func status(of json: String) -> JobStatus {
        struct Probe: Decodable { let status: JobStatus }
        return (try? JSONDecoder().decode(Probe.self, from: Data(json.utf8)).status) ?? .running
    }

    static func eventName(_ status: JobStatus) -> String {
        status.isTerminal ? status.rawValue : "progress"
    }

    static func frame(event: String, data: String) -> ByteBuffer {
        let lines = data.split(separator: "\n", omittingEmptySubsequences: false).map { "data: \($0)" }.joined(separator: "\n")
        return ByteBuffer(string: "event: \(event)\n\(lines)\n\n")
    }
}
