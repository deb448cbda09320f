/// Parses one complete JSON value held in contiguous memory.
///
/// The stream reader finds where a value ends and then hands the value's bytes
/// here, so this parser never has to stop and resume in the middle of a token.
/// It is iterative (an explicit stack), so nesting depth cannot overflow the
/// call stack; the depth limit is still enforced for memory's sake.
struct JSONValueParser {
    private let base: UnsafePointer<UInt8>
    private let count: Int
    /// The document offset of `base[0]`, for error messages.
    private let startOffset: Int
    private let depthBase: Int
    private let maxDepth: Int
    /// The long strings the reader took out of these bytes, in order; each left the
    /// placeholder byte 0x00 where it stood (raw 0x00 is not JSON outside a string).
    private let largeStrings: [LargeString]
    private let maxInlineStringBytes: Int
    private var nextLarge = 0
    private var i = 0

    private struct Frame {
        var isObject: Bool
        var elements: [JSONValue] = []
        var members: [(key: String, value: JSONValue)] = []
        var key: String = ""
    }

    /// - Parameters:
    ///   - depthBase: how deep the value sits in the document (its own
    ///     brackets count from `depthBase + 1`).
    init(
        base: UnsafePointer<UInt8>, count: Int, startOffset: Int, depthBase: Int, maxDepth: Int,
        largeStrings: [LargeString] = [], maxInlineStringBytes: Int = .max
    ) {
        self.base = base
        self.count = count
        self.startOffset = startOffset
        self.depthBase = depthBase
        self.maxDepth = maxDepth
        self.largeStrings = largeStrings
        self.maxInlineStringBytes = maxInlineStringBytes
    }

    /// Parses the buffer, which must hold exactly one value (surrounding
    /// whitespace allowed).
    mutating func parse(scratch: inout [UInt8]) throws -> JSONValue {
        var stack: [Frame] = []
        var value: JSONValue
        parsing: while true {
            // Parse one value; containers push a frame and loop for their first element.
            skipWhitespace()
            guard i < count else { throw error(.truncated, "expected a value, found the end of the data") }
            let b = base[i]
            switch b {
            case UInt8(ascii: "{"):
                try checkDepth(stack.count + 1)
                i += 1
                skipWhitespace()
                if i < count && base[i] == UInt8(ascii: "}") {
                    i += 1
                    value = .object([])
                } else {
                    let key = try parseKey(scratch: &scratch)
                    stack.append(Frame(isObject: true, key: key))
                    continue parsing
                }
            case UInt8(ascii: "["):
                try checkDepth(stack.count + 1)
                i += 1
                skipWhitespace()
                if i < count && base[i] == UInt8(ascii: "]") {
                    i += 1
                    value = .array([])
                } else if i < count, JSONNumberGrammar.isDigit(base[i]) || base[i] == UInt8(ascii: "-"),
                    let list = parseNumberList()
                {
                    value = .numbers(list)
                } else {
                    stack.append(Frame(isObject: false))
                    continue parsing
                }
            case UInt8(ascii: "\""):
                i += 1
                value = .string(try parseStringBody(scratch: &scratch))
            case 0 where nextLarge < largeStrings.count:
                i += 1
                value = .largeString(largeStrings[nextLarge])
                nextLarge += 1
            case UInt8(ascii: "-") where i + 1 < count && base[i + 1] == UInt8(ascii: "I"):
                // Python's json.dumps writes non-finite floats as bare literals (see JSONNumber.nonFinite).
                try expectLiteral("-Infinity")
                value = .number(JSONNumber.negativeInfinity)
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = .number(try parseNumber())
            case UInt8(ascii: "N"):
                try expectLiteral("NaN")
                value = .number(JSONNumber.nan)
            case UInt8(ascii: "I"):
                try expectLiteral("Infinity")
                value = .number(JSONNumber.infinity)
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                value = .bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                value = .bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                value = .null
            default:
                throw error(.notJSON, "expected a value, found \(describe(b))")
            }

            // A value is complete: attach it to its container, closing
            // containers for as long as their closing bracket follows.
            while !stack.isEmpty {
                let top = stack.count - 1
                if stack[top].isObject {
                    stack[top].members.append((key: stack[top].key, value: value))
                } else {
                    stack[top].elements.append(value)
                }
                skipWhitespace()
                guard i < count else {
                    throw error(
                        .truncated,
                        stack[top].isObject
                            ? "expected ',' or '}' in an object, found the end of the data"
                            : "expected ',' or ']' in an array, found the end of the data")
                }
                let c = base[i]
                if c == UInt8(ascii: ",") {
                    i += 1
                    if stack[top].isObject {
                        skipWhitespace()
                        stack[top].key = try parseKey(scratch: &scratch)
                    }
                    continue parsing
                }
                if stack[top].isObject && c == UInt8(ascii: "}") {
                    i += 1
                    value = .object(stack.removeLast().members)
                } else if !stack[top].isObject && c == UInt8(ascii: "]") {
                    i += 1
                    value = .array(stack.removeLast().elements)
                } else {
                    throw error(
                        .notJSON,
                        stack[top].isObject
                            ? "expected ',' or '}' after an object member, found \(describe(c))"
                            : "expected ',' or ']' after an array element, found \(describe(c))")
                }
            }
            skipWhitespace()
            if i < count {
                throw error(.notJSON, "expected the end of the value, found \(describe(base[i]))")
            }
            return value
        }
    }

    // MARK: - Tokens

    @inline(__always)
    private mutating func skipWhitespace() {
        while i < count {
            let b = base[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    private func checkDepth(_ depth: Int) throws {
        if depthBase + depth > maxDepth {
            throw error(.tooDeep, "arrays and objects nest deeper than \(maxDepth) levels")
        }
    }

    /// Parses `"key"` followed by `:`, leaving `i` after the colon.
    private mutating func parseKey(scratch: inout [UInt8]) throws -> String {
        guard i < count else { throw error(.truncated, "expected a member name, found the end of the data") }
        if base[i] == 0 && nextLarge < largeStrings.count {
            throw error(.valueTooLarge, "a member name is longer than \(maxInlineStringBytes) bytes")
        }
        guard base[i] == UInt8(ascii: "\"") else {
            throw error(.notJSON, "expected a member name in double quotes, found \(describe(base[i]))")
        }
        i += 1
        let key = try parseStringBody(scratch: &scratch)
        skipWhitespace()
        guard i < count else { throw error(.truncated, "expected ':' after a member name, found the end of the data") }
        guard base[i] == UInt8(ascii: ":") else {
            throw error(.notJSON, "expected ':' after the member name \(JSONEscaping.quoted(key)), found \(describe(base[i]))")
        }
        i += 1
        return key
    }

    private mutating func expectLiteral(_ word: StaticString) throws {
        let n = word.utf8CodeUnitCount
        let w = word.utf8Start
        var k = 0
        while k < n {
            guard i + k < count, base[i + k] == w[k] else {
                throw error(.notJSON, "expected a value, found an invalid literal (did you mean \(word)?)")
            }
            k += 1
        }
        i += n
        if i < count, isIdentifierByte(base[i]) {
            throw error(.notJSON, "expected a value, found an invalid literal (did you mean \(word)?)")
        }
    }

    private mutating func parseNumber() throws -> JSONNumber {
        let start = i
        guard let length = JSONNumberGrammar.validLength(base, start, count),
            start + length == count || !isIdentifierByte(base[start + length])
        else {
            var end = start
            while end < count && isIdentifierByte(base[end]) && end - start < 40 { end += 1 }
            let text = String(decoding: UnsafeBufferPointer(start: base + start, count: end - start), as: UTF8.self)
            throw error(.notJSON, "invalid number \(JSONEscaping.quoted(text))", at: start)
        }
        i = start + length
        return JSONNumber(validBytes: base + start, count: length, readable: count - start)
    }

    /// The rest of an array whose elements are all number literals (`i` at its first
    /// element) as one ``JSONNumberList``, leaving `i` after its `]`. nil, with `i` where it
    /// was, at the first thing that is not a number literal followed by `,` or `]` (a
    /// string, `null`, `NaN`, a nested value, an invalid number, the end of the data):
    /// the general path then parses the array, or reports the error, as it always has.
    private mutating func parseNumberList() -> JSONNumberList? {
        let first = i
        // The literals joined by single commas: the array's own bytes while no whitespace
        // stands between its tokens (so one copy at the end), else a copy built as it goes.
        var spaced: [UInt8]?
        var lastEnd = i
        var elements = 0
        var plain = true
        while true {
            let start = i
            var sawExponent = false
            guard let length = JSONNumberGrammar.validLength(base, start, count, sawExponent: &sawExponent),
                start + length < count, !isIdentifierByte(base[start + length])
            else {
                i = first
                return nil
            }
            if sawExponent || length > 30 {
                plain = plain && Float8Element.plainlyInRange(UnsafeRawBufferPointer(start: base + start, count: length))
            }
            spaced?.append(contentsOf: UnsafeBufferPointer(start: base + start, count: length))
            elements += 1
            i = start + length
            lastEnd = i
            skipWhitespace()
            if spaced == nil && i != lastEnd {
                spaced = Array(UnsafeBufferPointer(start: base + first, count: lastEnd - first))
            }
            guard i < count else {
                i = first
                return nil
            }
            if base[i] == UInt8(ascii: "]") {
                i += 1
                let text = spaced ?? Array(UnsafeBufferPointer(start: base + first, count: lastEnd - first))
                return JSONNumberList(validText: text, count: elements, plainlyInRange: plain)
            }
            guard base[i] == UInt8(ascii: ",") else {
                i = first
                return nil
            }
            i += 1
            let afterComma = i
            skipWhitespace()
            if spaced == nil && i != afterComma {
                spaced = Array(UnsafeBufferPointer(start: base + first, count: afterComma - first))
            } else {
                spaced?.append(UInt8(ascii: ","))
            }
        }
    }

    @inline(__always)
    private func isIdentifierByte(_ b: UInt8) -> Bool {
        // Bytes that would continue a number or literal token.
        (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "z"))
            || b == UInt8(ascii: ".") || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_")
    }

    /// Parses a string's contents; `i` is just past the opening quote and
    /// ends just past the closing quote.
    private mutating func parseStringBody(scratch: inout [UInt8]) throws -> String {
        let start = i
        // Fast path: no escapes; validate UTF-8 in place and build the String once.
        while i < count {
            let b = base[i]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(start: base + start, count: i - start), as: UTF8.self)
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw controlCharacter(b) }
            if b < 0x80 {
                i += 1
            } else {
                i += try utf8SequenceLength(at: i)
            }
        }
        guard i < count else { throw error(.truncated, "a string is not closed before the end of the data", at: start - 1) }
        // Slow path: copy what we have and decode escapes.
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: UnsafeBufferPointer(start: base + start, count: i - start))
        while i < count {
            let b = base[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                return String(decoding: scratch, as: UTF8.self)
            }
            if b == UInt8(ascii: "\\") {
                try decodeEscape(into: &scratch)
            } else if b < 0x20 {
                throw controlCharacter(b)
            } else if b < 0x80 {
                scratch.append(b)
                i += 1
            } else {
                let n = try utf8SequenceLength(at: i)
                scratch.append(contentsOf: UnsafeBufferPointer(start: base + i, count: n))
                i += n
            }
        }
        throw error(.truncated, "a string is not closed before the end of the data", at: start - 1)
    }

    private mutating func decodeEscape(into out: inout [UInt8]) throws {
        let escapeStart = i
        guard i + 1 < count else { throw error(.truncated, "a string ends inside an escape sequence") }
        let e = base[i + 1]
        i += 2
        switch e {
        case UInt8(ascii: "\""): out.append(0x22)
        case UInt8(ascii: "\\"): out.append(0x5C)
        case UInt8(ascii: "/"): out.append(0x2F)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4(at: escapeStart)
            if scalar >= 0xD800 && scalar <= 0xDBFF {
                // A high surrogate must be followed by an escaped low surrogate.
                guard i + 1 < count, base[i] == UInt8(ascii: "\\"), base[i + 1] == UInt8(ascii: "u") else {
                    throw error(.invalidUTF8, "a \\u escape names half of a surrogate pair without the other half", at: escapeStart)
                }
                i += 2
                let low = try hex4(at: escapeStart)
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw error(.invalidUTF8, "a \\u escape names half of a surrogate pair without the other half", at: escapeStart)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                throw error(.invalidUTF8, "a \\u escape names half of a surrogate pair without the other half", at: escapeStart)
            }
            appendUTF8(scalar, to: &out)
        default:
            throw error(.notJSON, "invalid escape sequence \\\(describeRaw(e)) in a string", at: escapeStart)
        }
    }

    private mutating func hex4(at escapeStart: Int) throws -> UInt32 {
        guard i + 4 <= count else { throw error(.truncated, "a string ends inside a \\u escape", at: escapeStart) }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = base[i + k]
            let d: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw error(.notJSON, "a \\u escape needs four hex digits", at: escapeStart)
            }
            v = v << 4 | d
        }
        i += 4
        return v
    }

    private func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | v >> 6))
            out.append(UInt8(0x80 | v & 0x3F))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | v >> 12))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18))
            out.append(UInt8(0x80 | (v >> 12) & 0x3F))
            out.append(UInt8(0x80 | (v >> 6) & 0x3F))
            out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    /// The length of the well-formed UTF-8 sequence at `at` (RFC 3629:
    /// no overlong forms, no surrogates, nothing above U+10FFFF).
    private func utf8SequenceLength(at p: Int) throws -> Int {
        let b0 = base[p]
        var n = 0
        var lo: UInt8 = 0x80
        var hi: UInt8 = 0xBF
        switch b0 {
        case 0xC2...0xDF: n = 2
        case 0xE0: n = 3; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 3
        case 0xED: n = 3; hi = 0x9F
        case 0xF0: n = 4; lo = 0x90
        case 0xF1...0xF3: n = 4
        case 0xF4: n = 4; hi = 0x8F
        default: throw invalidUTF8(at: p)
        }
        guard p + n <= count else { throw invalidUTF8(at: p) }
        let b1 = base[p + 1]
        guard b1 >= lo && b1 <= hi else { throw invalidUTF8(at: p) }
        var k = 2
        while k < n {
            guard base[p + k] & 0xC0 == 0x80 else { throw invalidUTF8(at: p) }
            k += 1
        }
        return n
    }

    // MARK: - Errors

    private func invalidUTF8(at p: Int) -> BackupReadError {
        error(.invalidUTF8, "a string holds bytes that are not valid UTF-8 (byte 0x\(String(base[p], radix: 16)))", at: p)
    }

    private func controlCharacter(_ b: UInt8) -> BackupReadError {
        error(.notJSON, "a string holds an unescaped control character (byte 0x\(String(b, radix: 16)))")
    }

    private func error(_ kind: BackupReadError.Kind, _ detail: String, at p: Int? = nil) -> BackupReadError {
        BackupReadError(kind, detail, offset: startOffset + (p ?? i))
    }
}

/// A byte as a person would like to read it in an error message.
func describe(_ b: UInt8) -> String {
    b >= 0x21 && b < 0x7F ? "'\(describeRaw(b))'" : describeRaw(b)
}

func describeRaw(_ b: UInt8) -> String {
    if b >= 0x21 && b < 0x7F { return String(UnicodeScalar(b)) }
    if b == 0x20 { return "space" }
    return "byte 0x" + (b < 0x10 ? "0" : "") + String(b, radix: 16)
}
