/// A push parser for a whole backup document that hands out one record at a time.
///
/// Feed it the document's bytes in chunks of any size (chunk boundaries may
/// fall anywhere, even inside a UTF-8 sequence); it calls `handler` with
/// each ``BackupEvent`` as soon as it is complete. Top-level keys may come in
/// any order. Only one record (or metadata value) is held at a time, so
/// memory does not grow with the file; a string of a record longer than
/// `limits.maxInlineStringBytes` is not held either but streamed (decoded and
/// checked on the way) and handed out as a ``LargeString``, so memory does not
/// grow with a value's size.
///
/// ```swift
/// let reader = BackupStreamReader { event in
///     if case .record(let section, _, let value) = event { try load(section, value) }
/// }
/// try reader.feed(chunk)      // as often as needed
/// try reader.finish()         // throws if the document ended early
/// ```
///
/// After an error every further call rethrows it. Not thread-safe.
public final class BackupStreamReader {
    /// Receives each event; an error it throws stops the reader and comes
    /// out of the `feed` or `finish` call that produced the event.
    public typealias Handler = (BackupEvent) throws -> Void

    /// The depth and size bounds in force.
    public let limits: BackupReaderLimits
    /// How many bytes of the document have been fed so far.
    public private(set) var bytesConsumed = 0

    private let handler: Handler
    /// Top-level keys whose array value is handed out one element at a time, like a
    /// section of `data` (`.sectionStart`, `.record`, `.sectionEnd`, the section named
    /// after the key): `{"references": [...]}` of a stitch request.
    private let topLevelArrays: Set<String>
    /// Whether the records being read belong to a top-level array (else to `data`).
    private var inTopLevelArray = false

    private enum State {
        case documentStart, topKeyOrEnd, topKey, topColon, topValue, topCommaOrEnd
        case dataKeyOrEnd, dataKey, dataColon, dataValue, dataCommaOrEnd
        case recordOrEnd, record, recordCommaOrEnd
        case documentEnd, finished
    }

    /// What the value being scanned will become once complete.
    private enum Target {
        case topKey, metadata, dataNotObject, dataKey, sectionNotArray, record
    }

    private var state = State.documentStart
    private var failure: Error?

    // The value in progress. Its bytes stay in the caller's chunk when the
    // value ends in the chunk it started in (the common case, no copy);
    // otherwise they are gathered in `buffer`.
    private var target: Target?
    private var valueStartOffset = 0
    private var valueStartIndex = 0
    private var buffering = false
    private var buffer: [UInt8] = []
    private var depthBase = 0
    private var scanDepth = 0
    private var scanInString = false
    private var scanEscaped = false
    private var scanScalar = false
    private var scanLength = 0

    // Long strings of the record in progress (see `LargeString`).
    private let spillDirectory: String?
    private var spill: StringSpill?
    private var stringStream: JSONStringStream?
    private var largeStrings: [LargeString] = []
    /// Where the current string's contents begin among the value's held bytes.
    private var stringContentHeld = 0
    private var longStringQuoteOffset = 0
    /// Parser positions from which document offsets run ahead by a long string's length.
    private var offsetShifts: [(at: Int, shift: Int)] = []

    private var topKey = ""
    private var sectionName = ""
    private var recordIndex = 0
    private var scratch: [UInt8] = []

    /// - Parameters:
    ///   - limits: depth and memory bounds (defaults: 256 levels, 64 MiB held per value,
    ///     strings of records over 1 MiB streamed).
    ///   - spillDirectory: where to keep the bytes of long strings (``LargeString``) while
    ///     their record's event is handled, in a nameless temp file; nil: they are checked
    ///     and counted, not kept (enough for checking a file).
    ///   - handler: called with each event, in file order.
    ///   - topLevelArrays: top-level keys whose array elements are handed out one by one
    ///     (as records of a section named after the key) instead of as one `.metadata` value.
    public init(
        limits: BackupReaderLimits = BackupReaderLimits(), spillDirectory: String? = nil,
        topLevelArrays: Set<String> = [], handler: @escaping Handler
    ) {
        self.limits = limits
        self.spillDirectory = spillDirectory
        self.topLevelArrays = topLevelArrays
        self.handler = handler
    }

    /// Parses the next chunk of the document, calling the handler for every
    /// event it completes. Errors thrown by the handler propagate unchanged.
    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        if let failure { throw failure }
        guard let raw = bytes.baseAddress, bytes.count > 0 else { return }
        do {
            try consume(raw.assumingMemoryBound(to: UInt8.self), bytes.count)
        } catch {
            failure = error
            throw error
        }
        bytesConsumed += bytes.count
    }

    /// Parses the next chunk of the document.
    public func feed(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try feed($0) }
    }

    /// Ends the document: throws ``BackupReadError`` when it is incomplete,
    /// otherwise calls the handler with `.end`.
    public func finish() throws {
        if let failure { throw failure }
        guard state != .finished else { return }
        do {
            guard target == nil, state == .documentEnd else { throw truncationError() }
            state = .finished
            try handler(.end)
        } catch {
            failure = error
            throw error
        }
    }

    // MARK: - Document structure

    private func consume(_ base: UnsafePointer<UInt8>, _ count: Int) throws {
        var i = 0
        if target != nil { i = try continueValue(base, 0, count) }
        while i < count {
            let b = base[i]
            if b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 {
                i += 1
                continue
            }
            switch state {
            case .documentStart:
                guard b == UInt8(ascii: "{") else { throw topLevelError(b, at: i) }
                state = .topKeyOrEnd
                i += 1
            case .topKeyOrEnd, .topKey:
                if b == UInt8(ascii: "\"") {
                    i = try startValue(.topKey, depthBase: 1, base, i, count)
                } else if b == UInt8(ascii: "}") && state == .topKeyOrEnd {
                    state = .documentEnd
                    i += 1
                } else {
                    throw syntax(
                        state == .topKey
                            ? "expected the next top-level key in double quotes, found \(describe(b))"
                            : "expected a top-level key in double quotes or '}', found \(describe(b))", at: i)
                }
            case .topColon:
                guard b == UInt8(ascii: ":") else {
                    throw syntax("expected ':' after the top-level key \(JSONEscaping.quoted(topKey)), found \(describe(b))", at: i)
                }
                state = .topValue
                i += 1
            case .topValue:
                if topKey == "data" && b == UInt8(ascii: "{") {
                    state = .dataKeyOrEnd
                    i += 1
                    try handler(.dataStart)
                } else if b == UInt8(ascii: "[") && topLevelArrays.contains(topKey) {
                    if 2 > limits.maxDepth { throw tooDeep(at: i) }
                    state = .recordOrEnd
                    recordIndex = 0
                    sectionName = topKey
                    inTopLevelArray = true
                    i += 1
                    try handler(.sectionStart(name: sectionName))
                } else {
                    i = try startValue(topKey == "data" ? .dataNotObject : .metadata, depthBase: 1, base, i, count)
                }
            case .topCommaOrEnd:
                if b == UInt8(ascii: ",") {
                    state = .topKey
                } else if b == UInt8(ascii: "}") {
                    state = .documentEnd
                } else {
                    throw syntax("expected ',' or '}' after the value of \(JSONEscaping.quoted(topKey)), found \(describe(b))", at: i)
                }
                i += 1
            case .dataKeyOrEnd, .dataKey:
                if b == UInt8(ascii: "\"") {
                    i = try startValue(.dataKey, depthBase: 2, base, i, count)
                } else if b == UInt8(ascii: "}") && state == .dataKeyOrEnd {
                    state = .topCommaOrEnd
                    i += 1
                    try handler(.dataEnd)
                } else {
                    throw syntax("expected a section name in double quotes inside \"data\", found \(describe(b))", at: i)
                }
            case .dataColon:
                guard b == UInt8(ascii: ":") else {
                    throw syntax("expected ':' after the section name \(JSONEscaping.quoted(sectionName)), found \(describe(b))", at: i)
                }
                state = .dataValue
                i += 1
            case .dataValue:
                if b == UInt8(ascii: "[") {
                    state = .recordOrEnd
                    recordIndex = 0
                    i += 1
                    try handler(.sectionStart(name: sectionName))
                } else {
                    i = try startValue(.sectionNotArray, depthBase: 2, base, i, count)
                }
            case .dataCommaOrEnd:
                if b == UInt8(ascii: ",") {
                    state = .dataKey
                    i += 1
                } else if b == UInt8(ascii: "}") {
                    state = .topCommaOrEnd
                    i += 1
                    try handler(.dataEnd)
                } else {
                    throw syntax("expected ',' or '}' after the section \(JSONEscaping.quoted(sectionName)), found \(describe(b))", at: i)
                }
            case .recordOrEnd, .record:
                if b == UInt8(ascii: "]") && state == .recordOrEnd {
                    endSection()
                    i += 1
                    try handler(.sectionEnd(name: sectionName, count: recordIndex))
                } else {
                    i = try startValue(.record, depthBase: inTopLevelArray ? 2 : 3, base, i, count)
                }
            case .recordCommaOrEnd:
                if b == UInt8(ascii: ",") {
                    state = .record
                    i += 1
                } else if b == UInt8(ascii: "]") {
                    endSection()
                    i += 1
                    try handler(.sectionEnd(name: sectionName, count: recordIndex))
                } else {
                    throw syntax("expected ',' or ']' after \(sectionPath)[\(recordIndex - 1)], found \(describe(b))", at: i)
                }
            case .documentEnd, .finished:
                throw BackupReadError(
                    .trailingData,
                    "unexpected data after the end of the document, found \(describe(b)); a backup is exactly one JSON object",
                    offset: bytesConsumed + i)
            }
        }
    }

    /// The end of a section's array: back to `data`, or to the top level.
    private func endSection() {
        state = inTopLevelArray ? .topCommaOrEnd : .dataCommaOrEnd
        inTopLevelArray = false
    }

    /// `data.concepts`, or `references` for a top-level array.
    private var sectionPath: String { inTopLevelArray ? sectionName : "data.\(sectionName)" }

    // MARK: - Values

    /// Begins a value at `base[i]` and scans as much of it as this chunk holds.
    /// Returns the index just past what was consumed.
    private func startValue(
        _ newTarget: Target, depthBase newDepthBase: Int,
        _ base: UnsafePointer<UInt8>, _ i: Int, _ count: Int
    ) throws -> Int {
        let b = base[i]
        target = newTarget
        depthBase = newDepthBase
        valueStartOffset = bytesConsumed + i
        valueStartIndex = i
        buffering = false
        scanLength = 0
        scanEscaped = false
        scanInString = false
        scanScalar = false
        scanDepth = 0
        switch b {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            scanDepth = 1
            if depthBase + 1 > limits.maxDepth { throw tooDeep(at: i) }
        case UInt8(ascii: "\""):
            scanInString = true
            stringContentHeld = 1
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "N"), UInt8(ascii: "I"):
            scanScalar = true
            return try continueValue(base, i, count)
        default:
            throw BackupReadError(
                .notJSON, "not valid JSON \(context()): expected a value, found \(describe(b))",
                offset: bytesConsumed + i)
        }
        return try continueValue(base, i + 1, count)
    }

    /// Scans the value in progress from `base[from]`: when it ends in this
    /// chunk, parses it and delivers it; otherwise keeps its bytes for later.
    ///
    /// Inside a record, a string longer than `maxInlineStringBytes` is not kept:
    /// from that point its bytes go through a ``JSONStringStream`` (into the spill
    /// file, or nowhere), and one placeholder byte (0x00, which cannot stand outside
    /// a string in JSON) takes its place among the value's bytes.
    private func continueValue(_ base: UnsafePointer<UInt8>, _ from: Int, _ count: Int) throws -> Int {
        // Bytes of this chunk from `pending` on belong to the value but are not in `buffer` yet.
        var pending = buffering ? 0 : valueStartIndex
        var i = from
        var end = -1
        if scanScalar {
            // Scan no further than the size limit allows, so that the limit trips
            // at the same byte however the input is chunked.
            let allowance = limits.maxValueBytes - scanLength - (from - pending)
            let scanEnd = allowance < count - from ? from + max(0, allowance) : count
            while i < scanEnd && isScalarByte(base[i]) { i += 1 }
            if i < scanEnd || (i < count && !isScalarByte(base[i])) {
                end = i
            } else if scanEnd < count {
                throw valueTooLarge(at: i)
            }
        } else {
            var depth = scanDepth
            var inString = scanInString
            var escaped = scanEscaped
            let room = limits.maxDepth - depthBase
            let divertible = target == .record
            scan: while i < count {
                if stringStream != nil {
                    let (consumed, ended): (Int, Bool)
                    do {
                        (consumed, ended) = try stringStream!.feed(base + i, count - i)
                    } catch let error as BackupReadError {
                        throw error.inContext(context())
                    }
                    i += consumed
                    pending = i
                    guard ended else { break scan }
                    finishLongString(endOffset: bytesConsumed + i)
                    inString = false
                    if depth == 0 {
                        end = i
                        break scan
                    }
                    continue scan
                }
                // Scan no further than the size limit allows (held bytes: the buffer
                // and this chunk's pending part), so that the limit trips at the same
                // byte however the input is chunked; in a string of a record, no
                // further than one byte past the inline string limit.
                let held = scanLength + (i - pending)
                let allowance = limits.maxValueBytes - held
                var scanEnd = allowance < count - i ? i + max(0, allowance) : count
                var stringLimited = false
                if inString && divertible {
                    let stringRoom = stringContentHeld + limits.maxInlineStringBytes + 1 - held
                    if stringRoom < scanEnd - i {
                        scanEnd = i + max(0, stringRoom)
                        stringLimited = true
                    }
                }
                while i < scanEnd {
                    // Skip 8 bytes at a time while none of them is a quote, a
                    // backslash or a bracket (the bulk of an embedding or a long text).
                    if !escaped {
                        while i + 8 <= scanEnd && !Self.mayBeStructural(base + i) { i += 8 }
                        guard i < scanEnd else { break }
                    }
                    let b = base[i]
                    if inString {
                        if escaped {
                            escaped = false
                        } else if b == UInt8(ascii: "\\") {
                            escaped = true
                        } else if b == UInt8(ascii: "\"") {
                            inString = false
                            i += 1
                            if depth == 0 {
                                end = i
                                break scan
                            }
                            if stringLimited { continue scan }
                            continue
                        }
                    } else {
                        switch b {
                        case UInt8(ascii: "\""):
                            inString = true
                            i += 1
                            if divertible {
                                stringContentHeld = scanLength + (i - pending)
                                continue scan
                            }
                            continue
                        case UInt8(ascii: "{"), UInt8(ascii: "["):
                            depth += 1
                            if depth > room { throw tooDeep(at: i) }
                        case UInt8(ascii: "}"), UInt8(ascii: "]"):
                            depth -= 1
                            if depth == 0 {
                                i += 1
                                end = i
                                break scan
                            }
                        default:
                            break
                        }
                    }
                    i += 1
                }
                if stringLimited {
                    // The string is longer than the inline limit: stream it from here on.
                    try startLongString(base, pending, i)
                    pending = i
                    escaped = false
                    continue scan
                }
                if scanEnd < count { throw valueTooLarge(at: i) }
            }
            scanDepth = depth
            scanInString = inString
            scanEscaped = escaped
        }

        guard end >= 0 else {
            if pending < count {
                buffer.append(contentsOf: UnsafeBufferPointer(start: base + pending, count: count - pending))
                scanLength += count - pending
            }
            buffering = true
            return count
        }

        let value: JSONValue
        do {
            if buffering {
                buffer.append(contentsOf: UnsafeBufferPointer(start: base + pending, count: end - pending))
                value = try buffer.withUnsafeBufferPointer { try parse($0.baseAddress!, $0.count) }
                // Keep a modest buffer for the next value; let a huge one go.
                buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 20)
            } else {
                value = try parse(base + valueStartIndex, end - valueStartIndex)
            }
        } catch let error as BackupReadError {
            throw BackupReadError(error.kind, error.detail, offset: documentOffset(error.offset)).inContext(context())
        }
        defer {
            // The value's long strings are readable while the handler runs, not after.
            if !largeStrings.isEmpty {
                largeStrings.removeAll()
                offsetShifts.removeAll()
                spill?.reset()
            }
        }
        try deliver(value)
        return end
    }

    // MARK: - Long strings

    /// Moves the string in progress out of the value's bytes into a ``JSONStringStream``;
    /// `base[pending..<i]` are the bytes of this chunk not yet buffered.
    private func startLongString(_ base: UnsafePointer<UInt8>, _ pending: Int, _ i: Int) throws {
        if pending < i {
            buffer.append(contentsOf: UnsafeBufferPointer(start: base + pending, count: i - pending))
            scanLength += i - pending
        }
        buffering = true
        let contentStart = stringContentHeld
        // Inside the string every held byte is a document byte: count back from here.
        let contentOffset = bytesConsumed + i - (buffer.count - contentStart)
        longStringQuoteOffset = contentOffset - 1
        if spill == nil, let spillDirectory { spill = StringSpill(directory: spillDirectory) }
        var stream = JSONStringStream(offset: contentOffset, spill: spill)
        do {
            _ = try buffer.withUnsafeBufferPointer { try stream.feed($0.baseAddress! + contentStart, $0.count - contentStart) }
        } catch let error as BackupReadError {
            throw error.inContext(context())
        }
        buffer.removeSubrange((contentStart - 1)...)
        buffer.append(0)  // the placeholder (see JSONValueParser)
        scanLength = buffer.count
        stringStream = stream
    }

    /// The long string in progress ended just before `endOffset`.
    private func finishLongString(endOffset: Int) {
        largeStrings.append(stringStream!.finished(generation: spill?.generation ?? 0))
        stringStream = nil
        // Parser positions after the placeholder lag the document by the string's length, less one.
        offsetShifts.append((at: buffer.count, shift: endOffset - longStringQuoteOffset - 1))
    }

    /// The document offset of a parser error's offset (which counts the value's held bytes).
    private func documentOffset(_ parserOffset: Int) -> Int {
        let position = parserOffset - valueStartOffset
        return parserOffset + offsetShifts.reduce(0) { $0 + ($1.at <= position ? $1.shift : 0) }
    }

    /// Whether any of the 8 bytes at `p` is a quote, a backslash or a bracket
    /// (word-at-a-time: a byte equal to `c` becomes zero in `w ^ c…c`, and the
    /// classic zero-byte test finds it).
    @inline(__always)
    private static func mayBeStructural(_ p: UnsafePointer<UInt8>) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let w = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
        // `{`/`[` and `}`/`]` differ only in bit 0x20: fold them together.
        let folded = w | (0x20 &* ones)
        @inline(__always) func hasZeroByte(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }
        return hasZeroByte(w ^ (0x22 &* ones)) || hasZeroByte(w ^ (0x5C &* ones))
            || hasZeroByte(folded ^ (0x7B &* ones)) || hasZeroByte(folded ^ (0x7D &* ones))
    }

    private func parse(_ start: UnsafePointer<UInt8>, _ count: Int) throws -> JSONValue {
        var parser = JSONValueParser(
            base: start, count: count, startOffset: valueStartOffset,
            depthBase: depthBase, maxDepth: limits.maxDepth,
            largeStrings: largeStrings, maxInlineStringBytes: limits.maxInlineStringBytes)
        defer {
            // One huge escaped string must not pin its memory for the rest of the file.
            if scratch.capacity > 1 << 20 { scratch = [] }
        }
        return try parser.parse(scratch: &scratch)
    }

    private func deliver(_ value: JSONValue) throws {
        let finished = target
        target = nil
        switch finished {
        case .topKey:
            topKey = value.stringValue ?? ""
            state = .topColon
        case .metadata:
            state = .topCommaOrEnd
            try handler(.metadata(key: topKey, value: value))
        case .dataNotObject:
            state = .topCommaOrEnd
            try handler(.dataNotObject(found: value.kind))
        case .dataKey:
            sectionName = value.stringValue ?? ""
            state = .dataColon
        case .sectionNotArray:
            state = .dataCommaOrEnd
            try handler(.sectionNotArray(name: sectionName, found: value.kind))
        case .record:
            state = .recordCommaOrEnd
            let index = recordIndex
            recordIndex += 1
            try handler(.record(section: sectionName, index: index, value: value))
        case nil:
            break
        }
    }

    @inline(__always)
    private func isScalarByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "z"))
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-")
    }

    // MARK: - Errors

    /// Where the value in progress sits, for messages.
    private func context() -> String {
        switch target {
        case .topKey: return "in a top-level key"
        case .metadata: return "in the value of \(JSONEscaping.quoted(topKey))"
        case .dataNotObject: return "in the value of \"data\""
        case .dataKey: return "in a section name inside \"data\""
        case .sectionNotArray: return "in data.\(sectionName)"
        case .record: return "in \(sectionPath)[\(recordIndex)]"
        case nil: return "in the document"
        }
    }

    private func syntax(_ detail: String, at i: Int) -> BackupReadError {
        BackupReadError(.notJSON, "not valid JSON: " + detail, offset: bytesConsumed + i)
    }

    private func valueTooLarge(at i: Int) -> BackupReadError {
        BackupReadError(
            .valueTooLarge,
            "\(context()): a single value is larger than the limit of \(limits.maxValueBytes) bytes held in memory "
                + "(strings of records longer than \(limits.maxInlineStringBytes) bytes are streamed and do not count)",
            offset: bytesConsumed + i)
    }

    private func tooDeep(at i: Int) -> BackupReadError {
        BackupReadError(
            .tooDeep, "\(context()): arrays and objects nest deeper than \(limits.maxDepth) levels",
            offset: bytesConsumed + i)
    }

    private func topLevelError(_ b: UInt8, at i: Int) -> BackupReadError {
        let found: JSONKind?
        switch b {
        case UInt8(ascii: "["): found = .array
        case UInt8(ascii: "\""): found = .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): found = .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"): found = .bool
        case UInt8(ascii: "n"): found = .null
        default: found = nil
        }
        if let found {
            return BackupReadError(
                .notAnObject,
                "the document is \(found), not an object: a backup is one JSON object with \"version\", \"type\" and \"data\"",
                offset: bytesConsumed + i)
        }
        return BackupReadError(
            .notJSON,
            "not JSON: expected '{' at the start of a backup, found \(describe(b))", offset: bytesConsumed + i)
    }

    private func truncationError() -> BackupReadError {
        if state == .documentStart {
            return BackupReadError(
                .truncated,
                bytesConsumed == 0
                    ? "the document is empty (0 bytes); expected a JSON object"
                    : "the document holds only whitespace; expected a JSON object", offset: bytesConsumed)
        }
        let place: String
        if target != nil {
            place = context()
        } else {
            switch state {
            case .recordOrEnd, .record, .recordCommaOrEnd:
                place = "in \(sectionPath) after \(recordIndex) record\(recordIndex == 1 ? "" : "s")"
            case .dataKeyOrEnd, .dataKey, .dataColon, .dataValue, .dataCommaOrEnd:
                place = "inside \"data\""
            default:
                place = "at the top level"
            }
        }
        return BackupReadError(
            .truncated,
            "the document ends early (truncated) \(place); the file is incomplete: fetch or re-create it",
            offset: bytesConsumed)
    }
}
