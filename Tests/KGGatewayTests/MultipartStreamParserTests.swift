import KGTestSupport
import XCTest
@testable import KGGateway

final class MultipartStreamParserTests: XCTestCase {
    typealias Fixture = MultipartFixture

    private func sampleBody(file: [UInt8] = Fixture.trickyContent()) -> [UInt8] {
        Fixture.body([
            .field("graph", "social"),
            .field("note", "two\r\nlines -- and \u{2713}"),
            .file(file),
            .field("after", "last"),
        ])
    }

    private func sampleEvents(file: [UInt8] = Fixture.trickyContent()) -> [RecordedEvent] {
        [
            .start(name: "graph", filename: nil, contentType: nil), .data(Array("social".utf8)), .end,
            .start(name: "note", filename: nil, contentType: nil), .data(Array("two\r\nlines -- and \u{2713}".utf8)), .end,
            .start(name: "file", filename: "graph.kgb", contentType: "application/octet-stream"), .data(file), .end,
            .start(name: "after", filename: nil, contentType: nil), .data(Array("last".utf8)), .end,
        ]
    }

    func testWholeBody() throws {
        XCTAssertEqual(try Fixture.events(of: sampleBody()), sampleEvents())
    }

    func testEveryChunkSizeFromOneTo97GivesTheSameEvents() throws {
        let body = sampleBody()
        let expected = sampleEvents()
        for size in 1...97 {
            XCTAssertEqual(try Fixture.events(of: body, chunkSizes: [size]), expected, "chunk size \(size)")
        }
    }

    func testRandomChunkingsGiveTheSameEvents() throws {
        let file = Fixture.trickyContent() + Fixture.randomBytes(20_000, seed: 7) + Fixture.trickyContent()
        let body = sampleBody(file: file)
        let expected = sampleEvents(file: file)
        var generator = SeededGenerator(seed: 42)
        for round in 0..<100 {
            let limit = [3, 20, 80, 700, 5000][round % 5]
            let sizes = (0..<64).map { _ in Int.random(in: 1...limit, using: &generator) }
            XCTAssertEqual(try Fixture.events(of: body, chunkSizes: sizes), expected, "round \(round): \(sizes)")
        }
    }

    func testEveryByteValueAndBoundaryLookalikesSurvive() throws {
        var content = Fixture.trickyContent()
        for _ in 0..<4 { content += content.reversed() }
        let events = try Fixture.events(of: Fixture.body([.file(content)]), chunkSizes: [13])
        XCTAssertEqual(events, [.start(name: "file", filename: "graph.kgb", contentType: "application/octet-stream"), .data(content), .end])
    }

    func testContentEndingInCROrDelimiterPrefixEndsBeforeTheRealDelimiter() throws {
        for tail in ["\r", "\r\n", "\r\n-", "\r\n--", "\r\n--" + String(decoding: Fixture.boundary.dropLast(), as: UTF8.self)] {
            let content = Array("payload".utf8) + Array(tail.utf8)
            for size in [1, 2, 5, 1000] {
                let events = try Fixture.events(of: Fixture.body([.file(content)]), chunkSizes: [size])
                XCTAssertEqual(events[1], .data(content), "tail \(tail.debugDescription), chunk size \(size)")
            }
        }
    }

    func testEmptyPartsAndEmptyValues() throws {
        let body = Fixture.body([.field("empty", ""), .file([])])
        XCTAssertEqual(
            try Fixture.events(of: body, chunkSizes: [1]),
            [
                .start(name: "empty", filename: nil, contentType: nil), .end,
                .start(name: "file", filename: "graph.kgb", contentType: "application/octet-stream"), .end,
            ])
    }

    func testPreambleAndEpilogueAreIgnored() throws {
        let preamble = Array("This is the preamble. --not-a-boundary\r\n--almost\r\n".utf8)
        let epilogue = Array("epilogue\r\n--\(String(decoding: Fixture.boundary, as: UTF8.self))\r\nContent-Disposition: junk\r\n".utf8)
        let body = Fixture.body([.field("a", "1"), .file(Array("data".utf8))], preamble: preamble, epilogue: epilogue)
        let expected: [RecordedEvent] = [
            .start(name: "a", filename: nil, contentType: nil), .data(Array("1".utf8)), .end,
            .start(name: "file", filename: "graph.kgb", contentType: "application/octet-stream"), .data(Array("data".utf8)), .end,
        ]
        for size in [1, 3, 64, Int.max] {
            XCTAssertEqual(try Fixture.events(of: body, chunkSizes: [size]), expected, "chunk size \(size)")
        }
    }

    func testClosingBoundaryWithoutTrailingCRLF() throws {
        var body = Fixture.body([.field("a", "1")])
        body.removeLast(2)
        XCTAssertEqual(try Fixture.events(of: body), [.start(name: "a", filename: nil, contentType: nil), .data([0x31]), .end])
    }

    func testQuotedFilenameWithEscapesAndUTF8() throws {
        let headers =
            "content-disposition: form-data; name=\"file\"; filename=\"my \\\"best\\\" graph \\\\ caf\u{E9} \u{1F600}.kgb\"; filename*=UTF-8''ignored\r\n"
            + "CONTENT-TYPE:application/x-kg-backup  \r\n"
            + "X-Other: ignored\r\n"
        let body = Fixture.body([Fixture.Part(headers: headers, content: [1, 2, 3])])
        XCTAssertEqual(
            try Fixture.events(of: body, chunkSizes: [1]),
            [
                .start(name: "file", filename: "my \"best\" graph \\ caf\u{E9} \u{1F600}.kgb", contentType: "application/x-kg-backup"),
                .data([1, 2, 3]), .end,
            ])
    }

    func testUnquotedParametersTransportPaddingAndFoldedHeaders() throws {
        var body = Array("--".utf8) + Fixture.boundary + Array(" \t\r\n".utf8)
        body += Array("Content-Disposition: form-data;\r\n name=field1\r\n\r\nv".utf8)
        body += Array("\r\n--".utf8) + Fixture.boundary + Array("--".utf8)
        XCTAssertEqual(
            try Fixture.events(of: body, chunkSizes: [2]), [.start(name: "field1", filename: nil, contentType: nil), .data(Array("v".utf8)), .end])
    }

    func testBodyThatEndsEarlyThrows() throws {
        let body = sampleBody()
        let closing = Array("\r\n--".utf8) + Fixture.boundary + Array("--\r\n".utf8)
        let unclosed = Array(body.dropLast(closing.count))
        // Cut in the file, in a header block, on a boundary line, and just before the closing `--`.
        let headerEnd = body.indices.first { Array(body[$0...].prefix(4)) == Array("\r\n\r\n".utf8) }!
        let cuts = [unclosed.count, unclosed.count - 10, headerEnd - 3, Fixture.boundary.count + 3, body.count - 4]
        for cut in cuts {
            for size in [1, 7, Int.max] {
                XCTAssertThrowsMultipartError(try Fixture.events(of: Array(body[..<cut]), chunkSizes: [size]), .endedEarly)
            }
        }
        XCTAssertTrue(MultipartError.endedEarly.description.hasPrefix("the upload ended early"))
    }

    func testBodyWithoutBoundaryThrows() {
        XCTAssertThrowsMultipartError(try Fixture.events(of: Array("just some bytes\r\n".utf8)), .boundaryNotFound)
        XCTAssertThrowsMultipartError(try Fixture.events(of: Fixture.body([.field("a", "1")], boundary: Array("other".utf8))), .boundaryNotFound)
    }

    func testHeaderBlockTooLarge() throws {
        let longName = String(repeating: "n", count: 20_000)
        let body = Fixture.body([.field(longName, "v")])
        for size in [1, 1000, Int.max] {
            XCTAssertThrowsMultipartError(try Fixture.events(of: body, chunkSizes: [size]), .headerTooLarge(limit: 16 * 1024))
        }
        // Many short lines count too.
        let manyLines = String(repeating: "X-Filler: 0123456789\r\n", count: 1000) + "Content-Disposition: form-data; name=\"a\"\r\n"
        XCTAssertThrowsMultipartError(
            try Fixture.events(of: Fixture.body([Fixture.Part(headers: manyLines, content: [])])),
            .headerTooLarge(limit: 16 * 1024))
        // Just under the limit passes.
        let fits = String(repeating: "n", count: 16 * 1024 - 60)
        XCTAssertEqual(try Fixture.events(of: Fixture.body([.field(fits, "v")]), chunkSizes: [100]).count, 3)
    }

    func testMalformedHeadersThrow() {
        func body(_ headers: String) -> [UInt8] { Fixture.body([Fixture.Part(headers: headers, content: [])]) }
        XCTAssertThrowsMultipartError(try Fixture.events(of: body("no colon here\r\n")), .malformedHeader(line: "no colon here"))
        XCTAssertThrowsMultipartError(try Fixture.events(of: body(": no name\r\n")), .malformedHeader(line: ": no name"))
        XCTAssertThrowsMultipartError(try Fixture.events(of: body("Bad Name: x\r\n")), .malformedHeader(line: "Bad Name: x"))
        XCTAssertThrowsMultipartError(try Fixture.events(of: body(" folded first\r\n")), .malformedHeader(line: " folded first"))
        XCTAssertThrowsMultipartError(
            try Fixture.events(of: body("Content-Type: a\nContent-Disposition: form-data; name=a\r\n")),
            .malformedHeader(line: "Content-Type: a\n"))
        XCTAssertThrowsMultipartError(try Fixture.events(of: body("Content-Type: text/plain\r\n")), .missingContentDisposition)
        XCTAssertThrowsMultipartError(try Fixture.events(of: body("")), .missingContentDisposition)
        XCTAssertThrowsMultipartError(try Fixture.events(of: body("Content-Disposition: form-data; filename=\"a\"\r\n")), .missingPartName)
        XCTAssertThrowsMultipartError(
            try Fixture.events(of: body("Content-Disposition: attachment; name=\"a\"\r\n")),
            .malformedContentDisposition("attachment; name=\"a\""))
        XCTAssertThrowsMultipartError(
            try Fixture.events(of: body("Content-Disposition: form-data; name=\"a\r\n")),
            .malformedContentDisposition("form-data; name=\"a"))
    }

    func testMalformedBoundaryLineThrows() {
        let body = Array("--".utf8) + Fixture.boundary + Array("-x\r\n".utf8)
        XCTAssertThrowsMultipartError(try Fixture.events(of: body), .malformedBoundaryLine)
        let padded = Array("--".utf8) + Fixture.boundary + Array(" x\r\n".utf8)
        XCTAssertThrowsMultipartError(try Fixture.events(of: padded), .malformedBoundaryLine)
    }

    func testAdversarialNearMissesFinishAndAreCorrect() throws {
        let boundary = Fixture.boundary
        let nearMisses: [[UInt8]] = [
            Array("\r\n--".utf8) + boundary.dropLast(),  // fails on the last boundary byte
            Array("\r\n--".utf8) + boundary + [UInt8(ascii: "X")],  // whole boundary, then a byte that can't follow it
            Array("\r".utf8),  // a candidate at every byte
            Array("\r\n-".utf8),
        ]
        for pattern in nearMisses {
            var content: [UInt8] = []
            content.reserveCapacity(2_000_000)
            while content.count < 2_000_000 { content += pattern }
            let body = Fixture.body([.file(content)])
            for size in [65_536, 1_000] {
                let (summary, file) = try Fixture.upload(body, chunkSizes: [size])
                XCTAssertEqual(summary.fileBytes, content.count)
                XCTAssertTrue(file == content, "pattern \(pattern.prefix(8)) chunk size \(size)")
            }
        }
    }

    func testDataEventsAreCoalescedPerChunk() throws {
        let chunkSize = 64 * 1024
        let content = Fixture.randomBytes(4 * 1024 * 1024, seed: 3)
        let body = Fixture.body([.file(content)])
        let runs = try dataRuns(body, chunkSize: chunkSize)
        let chunks = (body.count + chunkSize - 1) / chunkSize
        XCTAssertEqual(runs.reduce(0, +), content.count)
        XCTAssertLessThanOrEqual(runs.count, chunks + 1, "\(runs.count) data events for \(chunks) chunks")
    }

    func testHeldBackBoundaryPrefixIsJoinedToTheNextRun() throws {
        // Content in which every chunk ends with a delimiter prefix that turns out to be data.
        let chunkSize = 64 * 1024
        let head = Fixture.body([.file([])], close: false)
        let lookalike = Array("\r\n--".utf8) + Fixture.boundary.dropLast()
        var content: [UInt8] = []
        for chunk in 1...32 {
            let filler = chunk * chunkSize - head.count - content.count - lookalike.count
            content += [UInt8](repeating: UInt8(ascii: "a"), count: filler) + lookalike
        }
        let body = head + content + Array("\r\n--".utf8) + Fixture.boundary + Array("--".utf8)
        let runs = try dataRuns(body, chunkSize: chunkSize)
        XCTAssertEqual(runs.reduce(0, +), content.count)
        XCTAssertLessThanOrEqual(runs.count, 34)
        // No small runs: the held-back bytes travel with the next chunk.
        XCTAssertGreaterThanOrEqual(runs.dropLast().min() ?? 0, chunkSize - lookalike.count - head.count, "\(runs)")
    }

    private func dataRuns(_ body: [UInt8], chunkSize: Int) throws -> [Int] {
        var parser = MultipartStreamParser(boundary: Fixture.boundary)
        var runs: [Int] = []
        try Fixture.feed(body, chunkSizes: [chunkSize]) { chunk in
            try parser.feed(chunk) { event in
                if case .partData(let bytes) = event { runs.append(bytes.count) }
            }
        }
        try parser.finish()
        return runs
    }
}
