import Foundation
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import XCTest

@testable import KGGateway

/// A download's handler may not run ahead of a client that reads nothing: with
/// ``PacedBodyWriter`` it stays within what the sockets hold, even when the
/// connection's event loop is busy for a while (issue 13: the gateway's backup
/// download held more memory the longer it streamed). A real Hummingbird server on
/// a real socket; the client sends its request and never reads.
final class PacedBodyWriterTests: XCTestCase {
    static let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 256 * 1024)
    static let chunks = 400  // 100 MiB offered

    func testPacedWriterStaysWithinTheSocketsWhileTheEventLoopIsBusy() async throws {
        let ahead = try await bytesWrittenToAClientThatDoesNotRead(paced: true)
        print(String(format: "paced: the handler wrote %.1f MiB to a client that read nothing", Double(ahead) / 1_048_576))
        // The kernel's socket buffers on loopback (a few MiB), the channel's watermark
        // and a chunk or two; not the 100 MiB the handler offers.
        XCTAssertLessThan(ahead, 24 << 20, "the handler ran ahead of the client; its chunks are held in the gateway")
    }

    /// The same server without pacing: Hummingbird's writer accepts every chunk while
    /// the event loop is busy (the test above would fail without ``PacedBodyWriter``).
    func testUnpacedWriterRunsAheadWhileTheEventLoopIsBusy() async throws {
        let ahead = try await bytesWrittenToAClientThatDoesNotRead(paced: false)
        print(String(format: "unpaced: the handler wrote %.1f MiB to a client that read nothing", Double(ahead) / 1_048_576))
        XCTAssertGreaterThan(ahead, 64 << 20)
    }

    /// Starts a server whose one route writes ``chunks`` chunks, blocks its event loop
    /// for half a second as the response starts, and returns how many bytes the handler
    /// had written 1.5 s after a client that never reads sent its request.
    private func bytesWrittenToAClientThatDoesNotRead(paced: Bool) async throws -> Int {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let written = NIOLockedValueBox(0)
        let router = Router(context: GatewayRequestContext.self)
        router.get("/stream") { _, context -> Response in
            let eventLoop = context.channel.eventLoop
            return Response(
                status: .ok,
                body: ResponseBody { writer in
                    var out: any ResponseBodyWriter = paced ? PacedBodyWriter(writer, eventLoop: eventLoop) : writer
                    eventLoop.execute { usleep(500_000) }  // the event loop is busy elsewhere for a while
                    for _ in 0..<Self.chunks {
                        try await out.write(Self.chunk)
                        written.withLockedValue { $0 += Self.chunk.readableBytes }
                    }
                    try await out.finish(nil)
                })
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { portContinuation.yield($0.localAddress?.port ?? 0) },
            eventLoopGroupProvider: .shared(group))
        let server = Task { try await app.runService(gracefulShutdownSignals: []) }
        var fd: Int32 = -1
        var ahead = 0
        do {
            var iterator = ports.makeAsyncIterator()
            let started = await iterator.next()
            let port = try XCTUnwrap(started, "the server did not start")
            fd = try Self.connect(port: port)
            let request = Array("GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
            XCTAssertEqual(request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }, request.count)
            try await Task.sleep(for: .milliseconds(1500))
            ahead = written.withLockedValue { $0 }
        } catch {
            XCTFail("\(error)")
        }
        if fd >= 0 { close(fd) }
        server.cancel()
        _ = try? await server.value
        try await group.shutdownGracefully()
        return ahead
    }

    /// A blocking TCP client with a small receive buffer (set before connecting, so
    /// the kernel keeps it).
    private static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var size: Int32 = 64 * 1024
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        return fd
    }
}
