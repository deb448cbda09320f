#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// A push parser for `multipart/form-data` bodies (RFC 7578 / RFC 2046) of any size: feed it
/// the body in chunks as they arrive and it reports each part's headers and body bytes, holding
/// back only the few bytes that might begin a boundary. It knows nothing of HTTP or NIO, so it
/// can be driven from any byte source and tested on plain arrays.
///
/// ```swift
/// var parser = MultipartStreamParser(boundary: Array("XyZ".utf8))
/// for try await buffer in request.body {
///     try buffer.withUnsafeReadableBytes { chunk in
///         try parser.feed(chunk) { event in
///             if case .partData(let bytes) = event { try file.write(bytes) }
///         }
///     }
/// }
/// try parser.finish()   // throws .endedEarly if the closing boundary never came
/// ```
///
/// Body bytes come out in runs as long as the chunks allow: one `.partData` per chunk, except
/// where a part ends. Bytes held back across chunks (at most the boundary's length + 4) are
/// joined to the next chunk, never reported as a run of their own. Boundary search is linear:
/// `memchr` for CR, then one comparison of at most the delimiter's length per CR.
///
/// A `--boundary` match counts only when followed by `-`, space, tab or CR, so file content that
/// merely contains the boundary as a prefix of a longer word is kept as data.
struct MultipartStreamParser {
    private enum State {
        /// Before the first boundary: bytes are discarded.
        case preamble
        /// Just after `CRLF--boundary`; `Line` says how much of the rest of the line was read.
        case boundaryLine(BoundaryLine)
        /// Reading a part's header block.
        case headers
        /// Reading a part's body.
        case body
        /// After `--boundary--`: bytes are discarded.
        case epilogue
    }

    private enum BoundaryLine {
        case start, dash, padding, carriageReturn
    }

    /// `CRLF--boundary`: what ends a part body (RFC 2046 calls it the delimiter).
    private let delimiter: [UInt8]
    private let maxHeaderBytes: Int
    private var state: State = .preamble
    /// Bytes at the end of the last chunk that may begin a delimiter. Seeded with CRLF so that
    /// a body starting directly with `--boundary` (no preamble) matches like any other delimiter.
    private var carry: [UInt8] = [0x0D, 0x0A]
    /// Where `carry` and the next chunk are joined; kept to reuse its capacity.
    private var joined: [UInt8] = []
    private var headerBlock: [UInt8] = []
    /// Where the current, unfinished header line starts in `headerBlock`.
    private var headerLineStart = 0

    /// - Parameters:
    ///   - boundary: the boundary without its leading `--`, as `MultipartBoundary.parse` returns it.
    ///   - maxHeaderBytes: the most bytes one part's header block may have.
    init(boundary: [UInt8], maxHeaderBytes: Int = 16 * 1024) {
        precondition(!boundary.isEmpty, "a multipart boundary cannot be empty")
        self.delimiter = [0x0D, 0x0A, UInt8(ascii: "-"), UInt8(ascii: "-")] + boundary
        self.maxHeaderBytes = maxHeaderBytes
        self.joined.reserveCapacity(delimiter.count + 1)
    }

    /// True once the closing boundary has been read; whatever follows is ignored.
    var isComplete: Bool {
        if case .epilogue = state { return true }
        return false
    }

    /// Parses the next chunk of the body, calling `handler` for every event it completes.
    /// After an error the parser must not be fed again.
    mutating func feed(_ chunk: UnsafeRawBufferPointer, _ handler: (MultipartEvent) throws -> Void) throws {
        guard !chunk.isEmpty else { return }
        if carry.isEmpty {
            try process(chunk, handler)
            return
        }
        // Join the held-back bytes to the chunk so that they are reported in the same run.
        // `joined` is moved out of `self` while `process` mutates the rest of it.
        var buffer: [UInt8] = []
        swap(&buffer, &joined)
        defer {
            buffer.removeAll(keepingCapacity: true)
            swap(&buffer, &joined)
        }
        buffer.append(contentsOf: carry)
        buffer.append(contentsOf: chunk)
        carry.removeAll(keepingCapacity: true)
        try buffer.withUnsafeBytes { try process($0, handler) }
    }

    /// Declares the body complete. Throws `.endedEarly` (or `.boundaryNotFound`) unless the
    /// closing `--boundary--` was read.
    mutating func finish() throws {
        switch state {
        case .epilogue: return
        case .preamble: throw MultipartError.boundaryNotFound
        default: throw MultipartError.endedEarly
        }
    }

    // MARK: - Parsing

    private mutating func process(_ buffer: UnsafeRawBufferPointer, _ handler: (MultipartEvent) throws -> Void) throws {
        var index = 0
        let end = buffer.count
        while index < end {
            switch state {
            case .preamble, .body:
                let inBody: Bool
                if case .body = state { inBody = true } else { inBody = false }
                switch findDelimiter(in: buffer, from: index) {
                case .found(let at):
                    if inBody {
                        if at > index { try handler(.partData(UnsafeRawBufferPointer(rebasing: buffer[index..<at]))) }
                        try handler(.partEnd)
                    }
                    index = at + delimiter.count
                    state = .boundaryLine(.start)
                case .partial(let at):
                    if inBody, at > index { try handler(.partData(UnsafeRawBufferPointer(rebasing: buffer[index..<at]))) }
                    carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[at..<end]))
                    index = end
                case .none:
                    if inBody { try handler(.partData(UnsafeRawBufferPointer(rebasing: buffer[index..<end]))) }
                    index = end
                }

            case .boundaryLine(let line):
                let byte = buffer[index]
                index += 1
                state = try Self.next(after: line, byte)

            case .headers:
                index = try readHeaders(buffer, from: index, handler)

            case .epilogue:
                index = end
            }
        }
    }

    /// The rest of a boundary line: `--` (closing) or optional spaces then CRLF.
    private static func next(after line: BoundaryLine, _ byte: UInt8) throws -> State {
        switch (line, byte) {
        case (.start, UInt8(ascii: "-")): return .boundaryLine(.dash)
        case (.dash, UInt8(ascii: "-")): return .epilogue
        case (.start, UInt8(ascii: " ")), (.start, UInt8(ascii: "\t")),
            (.padding, UInt8(ascii: " ")), (.padding, UInt8(ascii: "\t")):
            return .boundaryLine(.padding)
        case (.start, 0x0D), (.padding, 0x0D): return .boundaryLine(.carriageReturn)
        case (.carriageReturn, 0x0A): return .headers
        default: throw MultipartError.malformedBoundaryLine
        }
    }

    /// Collects header lines until the blank line, then reports `.partStart`. Returns the index
    /// of the first byte not consumed.
    private mutating func readHeaders(
        _ buffer: UnsafeRawBufferPointer, from index: Int,
        _ handler: (MultipartEvent) throws -> Void
    ) throws -> Int {
        let base = buffer.baseAddress!
        let remaining = buffer.count - index
        guard let found = memchr(base + index, 0x0A, remaining) else {
            guard headerBlock.count + remaining <= maxHeaderBytes else { throw MultipartError.headerTooLarge(limit: maxHeaderBytes) }
            headerBlock.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index...]))
            return buffer.count
        }
        let lineEnd = UnsafeRawPointer(found) - base + 1
        guard headerBlock.count + (lineEnd - index) <= maxHeaderBytes else { throw MultipartError.headerTooLarge(limit: maxHeaderBytes) }
        headerBlock.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[index..<lineEnd]))

        let lineLength = headerBlock.count - headerLineStart
        guard lineLength >= 2, headerBlock[headerBlock.count - 2] == 0x0D else {
            throw MultipartError.malformedHeader(line: String(decoding: headerBlock[headerLineStart...], as: UTF8.self))
        }
        if lineLength == 2 {
            // The blank line: the block is complete.
            let headers = try MultipartPartHeaders(headerBlock: headerBlock[..<headerLineStart])
            headerBlock.removeAll(keepingCapacity: true)
            headerLineStart = 0
            state = .body
            try handler(.partStart(name: headers.name, filename: headers.filename, contentType: headers.contentType))
        } else {
            headerLineStart = headerBlock.count
        }
        return lineEnd
    }

    private enum Match {
        /// A whole delimiter (and the byte after it) starts here.
        case found(Int)
        /// The buffer ends with a prefix of the delimiter that starts here.
        case partial(Int)
    }

    /// The first delimiter at or after `start`: a CR found by `memchr`, then one `memcmp`.
    /// Each CR costs at most one comparison of the delimiter's length, so the search is linear
    /// even in a body made of near-misses.
    private func findDelimiter(in buffer: UnsafeRawBufferPointer, from start: Int) -> Match? {
        let base = buffer.baseAddress!
        let end = buffer.count
        let length = delimiter.count
        return delimiter.withUnsafeBytes { delimiterBytes -> Match? in
            let delimiterBase = delimiterBytes.baseAddress!
            var position = start
            while position < end {
                let candidate: Int
                if base.load(fromByteOffset: position, as: UInt8.self) == 0x0D {
                    // Runs of CR (an adversarial body) would otherwise cost a memchr call per byte.
                    candidate = position
                } else {
                    guard let found = memchr(base + position, 0x0D, end - position) else { return nil }
                    candidate = UnsafeRawPointer(found) - base
                }
                let available = end - candidate
                if available > length {
                    // Checking the LF first spares a memcmp call for a lone CR.
                    if base.load(fromByteOffset: candidate + 1, as: UInt8.self) == 0x0A,
                        memcmp(base + candidate, delimiterBase, length) == 0,
                        Self.canFollowDelimiter(buffer[candidate + length])
                    {
                        return .found(candidate)
                    }
                } else if memcmp(base + candidate, delimiterBase, available) == 0 {
                    // Also covers a whole delimiter at the very end: its next byte decides.
                    return .partial(candidate)
                }
                position = candidate + 1
            }
            return nil
        }
    }

    /// The bytes that may follow `--boundary` on a boundary line.
    private static func canFollowDelimiter(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "-") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == 0x0D
    }
}
