@testable import KGClient
import XCTest

final class ServerSentEventParserTests: XCTestCase {
    private let stream = Array(
        ("\u{FEFF}: comment\n\n"
            + "retry: 1000\n"
            + "event: progress\nid: 1\ndata: {\"percent\": 10}\n\n"
            + "data: line one\r\ndata: line two\r\n\r\n"
            + "event: progress\rid: 2\rdata:x\r\r"
            + "data\n\n"
            + "data:  two spaces\nid: bad\0id\nunknown: field\n\n"
            + "event: completed\nid: 3\ndata: {\"name\": \"été\"}\n\n"
            + "data: never dispatched").utf8)

    private let expected = [
        ServerSentEvent(event: "progress", data: #"{"percent": 10}"#, id: "1"),
        ServerSentEvent(event: nil, data: "line one\nline two", id: "1"),
        ServerSentEvent(event: "progress", data: "x", id: "2"),
        ServerSentEvent(event: nil, data: "", id: "2"),
        ServerSentEvent(event: nil, data: " two spaces", id: "2"),
        ServerSentEvent(event: "completed", data: #"{"name": "été"}"#, id: "3"),
    ]

    private func parse(chunkSizes: (Int) -> Int) -> [ServerSentEvent] {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        var offset = 0
        var index = 0
        while offset < stream.count {
            let size = min(max(1, chunkSizes(index)), stream.count - offset)
            let chunk = Array(stream[offset..<offset + size])
            _ = chunk.withUnsafeBytes { bytes in
                parser.feed(bytes) {
                    events.append($0); return true
                }
            }
            offset += size
            index += 1
        }
        return events
    }

    func testWholeStream() {
        XCTAssertEqual(parse { _ in Int.max }, expected)
    }

    func testByteByByte() {
        XCTAssertEqual(parse { _ in 1 }, expected)
    }

    func testEveryChunkingGivesTheSameEvents() {
        for size in 2...17 {
            XCTAssertEqual(parse { _ in size }, expected, "chunks of \(size)")
        }
        XCTAssertEqual(parse { $0 % 5 + 1 }, expected)
    }

    func testCRLFSplitAcrossChunksEndsOneLine() {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for piece in ["data: a\r", "\ndata: b\r", "\n\r", "\n"] {
            _ = Array(piece.utf8).withUnsafeBytes {
                parser.feed($0) {
                    events.append($0); return true
                }
            }
        }
        XCTAssertEqual(events, [ServerSentEvent(data: "a\nb")])
    }

    func testFalseFromEmitStopsParsing() {
        var parser = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        let keepGoing = Array("data: 1\n\ndata: 2\n\ndata: 3\n\n".utf8).withUnsafeBytes { bytes in
            parser.feed(bytes) {
                events.append($0); return events.count < 2
            }
        }
        XCTAssertFalse(keepGoing)
        XCTAssertEqual(events.map(\.data), ["1", "2"])
    }
}
