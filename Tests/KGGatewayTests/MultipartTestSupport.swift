import XCTest
@testable import KGGateway
import KGTestSupport

/// An event copied out of the parser, so that it can be compared after the buffer is gone.
enum RecordedEvent: Equatable, CustomStringConvertible {
    case start(name: String, filename: String?, contentType: String?)
    case data([UInt8])
    case end

    var description: String {
        switch self {
        case .start(let name, let filename, let contentType): return "start(\(name), \(filename ?? "nil"), \(contentType ?? "nil"))"
        case .data(let bytes): return "data(\(bytes.count) bytes)"
        case .end: return "end"
        }
    }
}

enum MultipartFixture {
    static let boundary = Array("----kgTestBoundary7MA4YWxkTrZu0gW".utf8)

    struct Part {
        var headers: String
        var content: [UInt8]

        static func field(_ name: String, _ value: String) -> Part {
            Part(headers: "Content-Disposition: form-data; name=\"\(name)\"\r\n", content: Array(value.utf8))
        }

        static func file(_ content: [UInt8], name: String = "file", filename: String? = "graph.kgb") -> Part {
            let filenameParameter = filename.map { "; filename=\"\($0)\"" } ?? ""
            return Part(
                headers: "Content-Disposition: form-data; name=\"\(name)\"\(filenameParameter)\r\n"
                    + "Content-Type: application/octet-stream\r\n",
                content: content)
        }
    }

    /// A body as a client sends it: `--boundary CRLF headers CRLF content` per part, then
    /// `CRLF--boundary--CRLF` unless `close` is false.
    static func body(
        _ parts: [Part], boundary: [UInt8] = boundary, preamble: [UInt8] = [],
        epilogue: [UInt8] = [], close: Bool = true
    ) -> [UInt8] {
        var body = preamble
        for (index, part) in parts.enumerated() {
            if index > 0 || !preamble.isEmpty { body += Array("\r\n".utf8) }
            body += Array("--".utf8) + boundary + Array("\r\n".utf8)
            body += Array(part.headers.utf8) + Array("\r\n".utf8)
            body += part.content
        }
        if close { body += Array("\r\n--".utf8) + boundary + Array("--\r\n".utf8) + epilogue }
        return body
    }

    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        var index = 0
        while index < count {
            var word = generator.next()
            for _ in 0..<8 where index < count {
                bytes[index] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                index += 1
            }
        }
        return bytes
    }

    /// Content built to trip a boundary search: CRLF, dashes, every prefix of the delimiter,
    /// the boundary followed by a letter, and all byte values.
    static func trickyContent(boundary: [UInt8] = boundary) -> [UInt8] {
        let delimiter = Array("\r\n--".utf8) + boundary
        var content: [UInt8] = Array("\r\n".utf8) + Array("--".utf8) + Array("\r\n\r\n".utf8)
        for length in 1..<delimiter.count {
            content += Array(delimiter[..<length]) + Array("x".utf8)
        }
        content += delimiter + Array("X not a boundary".utf8)
        content += Array("--".utf8) + boundary  // no CRLF before it: data
        content += (0...255).map { UInt8($0) }
        content += (0...255).reversed().map { UInt8($0) }
        content += Array("\r\n--".utf8) + boundary.dropLast()  // ends in a near-miss, right before the real delimiter
        return content
    }

    /// Parses `body` fed in pieces of the given sizes (cycled), merging adjacent data events.
    static func events(
        of body: [UInt8], boundary: [UInt8] = boundary, chunkSizes: [Int] = [Int.max],
        maxHeaderBytes: Int = 16 * 1024
    ) throws -> [RecordedEvent] {
        var parser = MultipartStreamParser(boundary: boundary, maxHeaderBytes: maxHeaderBytes)
        var events: [RecordedEvent] = []
        var pending: [UInt8]?  // adjacent data runs, merged
        func flush() {
            if let data = pending { events.append(.data(data)) }
            pending = nil
        }
        try feed(body, chunkSizes: chunkSizes) { chunk in
            try parser.feed(chunk) { event in
                switch event {
                case .partStart(let name, let filename, let contentType):
                    flush()
                    events.append(.start(name: name, filename: filename, contentType: contentType))
                case .partData(let bytes):
                    XCTAssertFalse(bytes.isEmpty, "empty data event")
                    if pending == nil { pending = [] }
                    pending!.append(contentsOf: bytes)
                case .partEnd:
                    flush()
                    events.append(.end)
                }
            }
        }
        flush()
        try parser.finish()
        return events
    }

    /// Runs `body` through a `MultipartUpload`, returning its summary and the file's bytes.
    static func upload(
        _ body: [UInt8], boundary: [UInt8] = boundary, chunkSizes: [Int] = [Int.max],
        maxFieldBytes: Int = 64 * 1024
    ) throws -> (MultipartUpload.Summary, [UInt8]) {
        var upload = MultipartUpload(boundary: boundary, maxFieldBytes: maxFieldBytes)
        var file: [UInt8] = []
        try feed(body, chunkSizes: chunkSizes) { chunk in
            try upload.feed(chunk) { file += $0 }
        }
        return (try upload.finish(), file)
    }

    static func feed(_ body: [UInt8], chunkSizes: [Int], _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        try body.withUnsafeBytes { all in
            var offset = 0
            var sizeIndex = 0
            while offset < all.count {
                let size = min(chunkSizes[sizeIndex % chunkSizes.count], all.count - offset)
                sizeIndex += 1
                // Copy each chunk so that the parser cannot lean on bytes outside it.
                let chunk = Array(all[offset..<(offset + size)])
                try chunk.withUnsafeBytes { try consume($0) }
                offset += size
            }
        }
    }
}

/// Asserts that `body` throws exactly `expected`.
func XCTAssertThrowsMultipartError(
    _ expression: @autoclosure () throws -> some Any, _ expected: MultipartError,
    file: StaticString = #filePath, line: UInt = #line
) {
    XCTAssertThrowsError(try expression(), file: file, line: line) { error in
        XCTAssertEqual(error as? MultipartError, expected, "\(error)", file: file, line: line)
    }
}
