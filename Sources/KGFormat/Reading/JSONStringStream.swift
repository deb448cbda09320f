/// Decodes the contents of one JSON string that arrives in pieces (a string too
/// long to hold: see ``LargeString``), with the rules and messages of
/// ``JSONValueParser``: escapes, surrogate pairs, well-formed UTF-8, no raw control
/// characters. It counts the decoded bytes, notes U+0000, hashes them, and hands
/// the decoded bytes to a ``StringSpill`` (when there is one) 64 KiB at a time.
struct JSONStringStream {
    private enum State {
        case plain
        case escape
        /// `\u` read, `digits` hex digits so far; `high` is a pending high surrogate.
        case unicode(digits: Int, value: UInt32, high: UInt32?)
        /// After a high surrogate's escape: expecting `\` (false) or `u` (true).
        case lowSurrogate(sawBackslash: Bool, high: UInt32)
        /// Inside a multi-byte UTF-8 sequence: `remaining` bytes, the next within lo...hi.
        case utf8(remaining: Int, lo: UInt8, hi: UInt8)
    }

    private var state = State.plain
    /// The document offset of the next byte fed.
    private(set) var offset: Int
    /// Where the current escape or UTF-8 sequence began, for messages.
    private var sequenceStart = 0
    private var sequenceFirst: UInt8 = 0
    private(set) var byteCount = 0
    private(set) var containsNUL = false
    private let spill: StringSpill?
    /// Decoded bytes not yet hashed (and written to the spill).
    private var out: [UInt8] = []
    private var hasher = Hasher()
    /// Where this string's bytes begin in the spill.
    let spillOffset: Int

    /// - Parameter offset: the document offset of the first content byte (after the quote).
    init(offset: Int, spill: StringSpill?) {
        self.offset = offset
        self.spill = spill
        self.spillOffset = spill?.size ?? 0
        out.reserveCapacity(64 << 10)
    }

    /// Decodes from `p`; returns how many bytes were consumed and whether the closing
    /// quote was among them (consumed, then, includes it).
    mutating func feed(_ p: UnsafePointer<UInt8>, _ count: Int) throws -> (consumed: Int, ended: Bool) {
        var i = 0
        defer { offset += i }
        while i < count {
            if case .plain = state {
                // Runs of printable ASCII other than quote and backslash, 8 bytes at a time.
                let runStart = i
                while i + 8 <= count && Self.isPlainASCII8(p + i) { i += 8 }
                while i < count {
                    let b = p[i]
                    guard b >= 0x20 && b < 0x80 && b != 0x22 && b != 0x5C else { break }
                    i += 1
                }
                if i > runStart { try emit(p + runStart, i - runStart) }
                guard i < count else { break }
                let b = p[i]
                switch b {
                case 0x22:
                    i += 1
                    try flush()
                    return (i, true)
                case 0x5C:
                    sequenceStart = offset + i
                    state = .escape
                case 0..<0x20:
                    throw error(.notJSON, "a string holds an unescaped control character (byte 0x\(String(b, radix: 16)))", at: offset + i)
                default:
                    sequenceStart = offset + i
                    sequenceFirst = b
                    switch b {
                    case 0xC2...0xDF: state = .utf8(remaining: 1, lo: 0x80, hi: 0xBF)
                    case 0xE0: state = .utf8(remaining: 2, lo: 0xA0, hi: 0xBF)
                    case 0xE1...0xEC, 0xEE...0xEF: state = .utf8(remaining: 2, lo: 0x80, hi: 0xBF)
                    case 0xED: state = .utf8(remaining: 2, lo: 0x80, hi: 0x9F)
                    case 0xF0: state = .utf8(remaining: 3, lo: 0x90, hi: 0xBF)
                    case 0xF1...0xF3: state = .utf8(remaining: 3, lo: 0x80, hi: 0xBF)
                    case 0xF4: state = .utf8(remaining: 3, lo: 0x80, hi: 0x8F)
                    default: throw invalidUTF8()
                    }
                    try emitByte(b)
                }
                i += 1
                continue
            }
            let b = p[i]
            switch state {
            case .plain:
                break
            case .utf8(let remaining, let lo, let hi):
                guard b >= lo && b <= hi else { throw invalidUTF8() }
                try emitByte(b)
                state = remaining == 1 ? .plain : .utf8(remaining: remaining - 1, lo: 0x80, hi: 0xBF)
            case .escape:
                state = .plain
                switch b {
                case UInt8(ascii: "\""): try emitByte(0x22)
                case UInt8(ascii: "\\"): try emitByte(0x5C)
                case UInt8(ascii: "/"): try emitByte(0x2F)
                case UInt8(ascii: "b"): try emitByte(0x08)
                case UInt8(ascii: "f"): try emitByte(0x0C)
                case UInt8(ascii: "n"): try emitByte(0x0A)
                case UInt8(ascii: "r"): try emitByte(0x0D)
                case UInt8(ascii: "t"): try emitByte(0x09)
                case UInt8(ascii: "u"): state = .unicode(digits: 0, value: 0, high: nil)
                default:
                    throw error(.notJSON, "invalid escape sequence \\\(describeRaw(b)) in a string", at: sequenceStart)
                }
            case .unicode(let digits, let value, let high):
                let d: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
                default: throw error(.notJSON, "a \\u escape needs four hex digits", at: sequenceStart)
                }
                let v = value << 4 | d
                if digits < 3 {
                    state = .unicode(digits: digits + 1, value: v, high: high)
                } else if let high {
                    guard v >= 0xDC00 && v <= 0xDFFF else { throw surrogate() }
                    state = .plain
                    try emitScalar(0x10000 + ((high - 0xD800) << 10) + (v - 0xDC00))
                } else if v >= 0xD800 && v <= 0xDBFF {
                    state = .lowSurrogate(sawBackslash: false, high: v)
                } else if v >= 0xDC00 && v <= 0xDFFF {
                    throw surrogate()
                } else {
                    state = .plain
                    try emitScalar(v)
                }
            case .lowSurrogate(let sawBackslash, let high):
                guard b == (sawBackslash ? UInt8(ascii: "u") : UInt8(ascii: "\\")) else { throw surrogate() }
                state = sawBackslash ? .unicode(digits: 0, value: 0, high: high) : .lowSurrogate(sawBackslash: true, high: high)
            }
            i += 1
        }
        return (i, false)
    }

    /// The string once its closing quote was fed.
    func finished(generation: Int) -> LargeString {
        LargeString(
            byteCount: byteCount, containsNUL: containsNUL, contentHash: hasher.finalize(), spill: spill,
            offset: spillOffset, generation: generation)
    }

    /// Where the string is cut short when the document ends inside it.
    var isInsideSequence: Bool {
        if case .plain = state { return false }
        return true
    }

    // MARK: - Output

    @inline(__always)
    private mutating func emit(_ p: UnsafePointer<UInt8>, _ n: Int) throws {
        byteCount += n
        if out.count + n > out.capacity && !out.isEmpty { try flush() }
        if n >= 64 << 10 {
            let bytes = UnsafeRawBufferPointer(start: p, count: n)
            hasher.combine(bytes: bytes)
            try spill?.append(bytes)
        } else {
            out.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        }
    }

    @inline(__always)
    private mutating func emitByte(_ b: UInt8) throws {
        if b == 0 { containsNUL = true }
        byteCount += 1
        if out.count >= 64 << 10 { try flush() }
        out.append(b)
    }

    private mutating func emitScalar(_ v: UInt32) throws {
        switch v {
        case 0..<0x80:
            try emitByte(UInt8(v))
        case 0x80..<0x800:
            try emitByte(UInt8(0xC0 | v >> 6))
            try emitByte(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            try emitByte(UInt8(0xE0 | v >> 12))
            try emitByte(UInt8(0x80 | (v >> 6) & 0x3F))
            try emitByte(UInt8(0x80 | v & 0x3F))
        default:
            try emitByte(UInt8(0xF0 | v >> 18))
            try emitByte(UInt8(0x80 | (v >> 12) & 0x3F))
            try emitByte(UInt8(0x80 | (v >> 6) & 0x3F))
            try emitByte(UInt8(0x80 | v & 0x3F))
        }
    }

    private mutating func flush() throws {
        guard !out.isEmpty else { return }
        out.withUnsafeBytes { hasher.combine(bytes: $0) }
        if let spill { try out.withUnsafeBytes { try spill.append($0) } }
        out.removeAll(keepingCapacity: true)
    }

    /// Whether 8 bytes are all printable ASCII other than `"` and `\`.
    @inline(__always)
    private static func isPlainASCII8(_ p: UnsafePointer<UInt8>) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let w = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
        guard w & highs == 0 else { return false }
        @inline(__always) func hasZeroByte(_ x: UInt64) -> Bool { (x &- ones) & ~x & highs != 0 }
        // A byte below 0x20 (all bytes are below 0x80 here): adding 0x60 leaves its high bit clear.
        let control = (w &+ 0x60 &* ones) & highs != highs
        return !control && !hasZeroByte(w ^ (0x22 &* ones)) && !hasZeroByte(w ^ (0x5C &* ones))
    }

    // MARK: - Errors

    private func error(_ kind: BackupReadError.Kind, _ detail: String, at position: Int) -> BackupReadError {
        BackupReadError(kind, detail, offset: position)
    }

    private func invalidUTF8() -> BackupReadError {
        error(.invalidUTF8, "a string holds bytes that are not valid UTF-8 (byte 0x\(String(sequenceFirst, radix: 16)))", at: sequenceStart)
    }

    private func surrogate() -> BackupReadError {
        error(.invalidUTF8, "a \\u escape names half of a surrogate pair without the other half", at: sequenceStart)
    }
}
