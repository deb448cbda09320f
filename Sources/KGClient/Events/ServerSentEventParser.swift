/// An incremental `text/event-stream` parser (WHATWG HTML, "Server-sent
/// events", interpretation of the stream): feed it bytes as they arrive, in
/// chunks of any size; it emits each event when its blank line arrives.
///
/// Lines end with CRLF, LF or CR (a CRLF split across chunks counts once);
/// a leading BOM is skipped; `:` lines are comments; `data:` lines are joined
/// with "\n"; an `id:` persists across events; a block without data dispatches
/// nothing; an event not ended by a blank line when the stream ends is dropped.
struct ServerSentEventParser {
    private static let lineFeed = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")

    private var partialLine: [UInt8] = []
    private var skipLineFeed = false
    private var atStreamStart = true
    private var dataBuffer = ""
    private var eventType = ""
    private var lastEventID = ""

    /// Parses `bytes`, calling `emit` for every complete event. Returns false
    /// (and stops parsing) as soon as `emit` returns false.
    mutating func feed(
        _ bytes: UnsafeRawBufferPointer, emit: (ServerSentEvent) throws -> Bool
    ) rethrows -> Bool {
        var index = 0
        if skipLineFeed, !bytes.isEmpty {
            skipLineFeed = false
            if bytes[0] == Self.lineFeed { index = 1 }
        }
        var lineStart = index
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == Self.lineFeed || byte == Self.carriageReturn else {
                index += 1
                continue
            }
            partialLine.append(contentsOf: bytes[lineStart..<index])
            if byte == Self.carriageReturn {
                if index + 1 < bytes.count {
                    if bytes[index + 1] == Self.lineFeed { index += 1 }
                } else {
                    skipLineFeed = true
                }
            }
            index += 1
            lineStart = index
            if try !processLine(emit: emit) { return false }
        }
        partialLine.append(contentsOf: bytes[lineStart..<bytes.count])
        return true
    }

    private mutating func processLine(emit: (ServerSentEvent) throws -> Bool) rethrows -> Bool {
        if atStreamStart {
            atStreamStart = false
            if partialLine.starts(with: [0xEF, 0xBB, 0xBF]) { partialLine.removeFirst(3) }
        }
        let line = String(decoding: partialLine, as: UTF8.self)
        partialLine.removeAll(keepingCapacity: true)

        if line.isEmpty { return try dispatch(emit: emit) }
        if line.hasPrefix(":") { return true }

        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
        } else {
            field = line[...]
            value = ""
        }
        switch field {
        case "event": eventType = String(value)
        case "data": dataBuffer += value + "\n"
        case "id" where !value.contains("\0"): lastEventID = String(value)
        default: break  // "retry" and unknown fields: nothing for a blocking client to do.
        }
        return true
    }

    private mutating func dispatch(emit: (ServerSentEvent) throws -> Bool) rethrows -> Bool {
        defer {
            dataBuffer = ""
            eventType = ""
        }
        guard !dataBuffer.isEmpty else { return true }
        var data = dataBuffer
        data.removeLast()  // the "\n" added after the last data line
        let event = ServerSentEvent(
            event: eventType.isEmpty ? nil : eventType,
            data: data,
            id: lastEventID.isEmpty ? nil : lastEventID
        )
        return try emit(event)
    }
}
