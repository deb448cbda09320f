import HTTPTypes
import Hummingbird
import NIOCore

/// A response body writer that stays at most one write ahead of the connection's
/// event loop, so a download holds a few chunks in the gateway, not as many as
/// the handler can produce while the event loop is busy.
///
/// Hummingbird's writer (`NIOAsyncWriter`) suspends a write only once it knows the
/// channel is unwritable, and it learns that on the event loop, when a write it
/// handed over is processed there. Each write is handed over with
/// `eventLoop.execute`, so while the event loop does not run (other connections,
/// a loaded machine: the threads are descheduled) every write the task makes is
/// accepted at once and queued: a 256 KiB chunk each, for as long as the stall
/// lasts. Back-pressure itself was in place, but a backup download's peak grew
/// with its length (a longer download meets a longer stall): a fresh gateway
/// streaming 1.5 GB on a loaded machine peaked 30–50 MB above its start (issue 13).
///
/// After each write this one waits for a task of its own on the same event loop:
/// the loop runs tasks in order, so by then the write has reached the channel and
/// the writer's writability is current; the next write suspends while the client
/// is behind. One hop per chunk (256 KiB), nothing per byte.
///
/// ```swift
/// var paced: any ResponseBodyWriter = PacedBodyWriter(writer, eventLoop: context.channel.eventLoop)
/// try await paced.write(chunk)
/// ```
struct PacedBodyWriter: ResponseBodyWriter {
    private var base: any ResponseBodyWriter
    private let eventLoop: any EventLoop

    init(_ base: any ResponseBodyWriter, eventLoop: any EventLoop) {
        self.base = base
        self.eventLoop = eventLoop
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        try await base.write(buffer)
        try await eventLoop.submit {}.get()
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        try await base.finish(trailingHeaders)
    }
}
