import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix

/// Sends the bytes `[start, end)` of an open file (a kept backup file: the
/// `GET /jobs/{id}/backup` route), then closes the descriptor, on every path.
/// Counts what it sends, and only that, in `kg_bytes_streamed_total`.
struct FileRangeStreamer: Sendable {
    let fd: Int32
    let span: Range<Int>
    let jobID: String
    let logger: Logger
    /// The connection's event loop: writes are paced by it (``PacedBodyWriter``).
    let eventLoop: any EventLoop
    private let bytesSent = GatewayMetrics.bytesOut(.backup)

    init(fd: Int32, span: Range<Int>, jobID: String, logger: Logger, eventLoop: any EventLoop) {
        self.fd = fd
        self.span = span
        self.jobID = jobID
        self.logger = logger
        self.eventLoop = eventLoop
    }

    func stream(to writer: inout any ResponseBodyWriter) async throws {
        defer { _ = close(fd) }
        writer = PacedBodyWriter(writer, eventLoop: eventLoop)  // a few chunks ahead of the client, not a file's worth
        var offset = span.lowerBound
        while offset < span.upperBound {
            let want = min(BackupStreamer.chunkSize, span.upperBound - offset)
            guard let chunk = try await FileCalls.readChunk(fd, at: offset, upTo: want) else {
                // The file is shorter than it was a moment ago: it was replaced or truncated outside kg.
                logger.error("a kept backup file shrank while it was served", metadata: ["job_id": "\(jobID)", "offset": "\(offset)"])
                throw BackupStreamer.Aborted(description: "the backup file shrank while it was served")
            }
            offset += chunk.readableBytes
            try await writer.write(chunk)
            bytesSent.increment(by: Int64(chunk.readableBytes))
        }
        try await writer.finish(nil)
        logger.info("backup range sent", metadata: ["job_id": "\(jobID)", "from": "\(span.lowerBound)", "bytes": "\(span.count)"])
    }
}
