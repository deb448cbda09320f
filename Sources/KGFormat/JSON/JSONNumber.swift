/// A JSON number's literal text, exactly as written ("0.4831297575436466",
/// "-3", "1e-7"), so that no digit is lost to `Double`.
///
/// Literals of up to 23 bytes (every `double precision` PostgreSQL prints, so
/// every embedding element) are stored inline: reading a 1536-element embedding
/// costs one array allocation instead of one String allocation per element.
/// Longer literals fall back to a `String`. Equality is textual:
/// `JSONNumber("1.0") != JSONNumber("1")`.
///
/// ```swift
/// let n: JSONNumber = "0.25"
/// n.text          // "0.25"
/// Double(n.text)  // 0.25
/// ```
public struct JSONNumber: Sendable, CustomStringConvertible, ExpressibleByStringLiteral, ExpressibleByStringInterpolation {
    /// The longest literal stored inline.
    static let inlineCapacity = 23

    private enum Storage: Sendable {
        /// Bytes 0..<23 hold the text (zero padded), byte 23 its length.
        case inline(UInt64, UInt64, UInt64)
        case text(String)
    }

    private let storage: Storage

    /// A number from literal text. The text is taken as it is: callers that
    /// build numbers from untrusted text use `JSONValue(numberLiteral:)`, which
    /// checks the grammar.
    public init(_ text: String) {
        var text = text
        let stored: Storage? = text.withUTF8 { utf8 in
            guard let base = utf8.baseAddress, utf8.count <= Self.inlineCapacity else { return nil }
            return Self.packed(base, utf8.count)
        }
        storage = stored ?? .text(text)
    }

    public init(stringLiteral value: String) { self.init(value) }

    /// A number from an integer.
    public init(_ value: Int) { self.init(String(value)) }

    /// From bytes already checked against the JSON number grammar (the reader).
    /// `readable` is how many bytes from `base` may be read (at least `count`).
    init(validBytes base: UnsafePointer<UInt8>, count: Int, readable: Int) {
        #if _endian(little)
            if count <= Self.inlineCapacity && readable >= 24 {
                // Three word loads and masks instead of a byte copy followed by word
                // reads (which stalls on store forwarding): the reader's hot path.
                let raw = UnsafeRawPointer(base)
                @inline(__always) func keep(_ word: UInt64, _ bytes: Int) -> UInt64 {
                    bytes >= 8 ? word : bytes <= 0 ? 0 : word & ((1 &<< UInt64(bytes &* 8)) &- 1)
                }
                storage = .inline(
                    keep(raw.loadUnaligned(as: UInt64.self), count),
                    keep(raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self), count - 8),
                    keep(raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self), count - 16) | UInt64(count) &<< 56)
                return
            }
        #endif
        if count <= Self.inlineCapacity {
            storage = Self.packed(base, count)
        } else {
            storage = .text(String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self))
        }
    }

    @inline(__always)
    private static func packed(_ base: UnsafePointer<UInt8>, _ count: Int) -> Storage {
        var words: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &words) { raw in
            raw.baseAddress!.copyMemory(from: base, byteCount: count)
            raw[inlineCapacity] = UInt8(truncatingIfNeeded: count)
        }
        return .inline(words.0, words.1, words.2)
    }

    /// The literal's UTF-8 bytes (ASCII), valid only inside `body`.
    @inline(__always)
    public func withUTF8<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch storage {
        case .inline(let a, let b, let c):
            var words = (a, b, c)
            return try withUnsafeBytes(of: &words) { raw in
                try body(UnsafeRawBufferPointer(rebasing: raw[0..<Int(raw[Self.inlineCapacity])]))
            }
        case .text(var s):
            return try s.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Appends the literal to `out`.
    @inline(__always)
    public func append(to out: inout [UInt8]) {
        withUTF8 { out.append(contentsOf: $0) }
    }

    /// The literal text.
    public var text: String {
        switch storage {
        case .inline: return withUTF8 { String(decoding: $0, as: UTF8.self) }
        case .text(let s): return s
        }
    }

    public var description: String { text }

    /// The value as an `Int` when the literal is an integer that fits.
    public var intValue: Int? { Int(text) }

    /// The value as a `Double` (may round).
    public var doubleValue: Double? { Double(text) }

    // MARK: - Non-finite literals

    /// `NaN`, `Infinity` and `-Infinity` are not JSON, but Python's `json.dumps`
    /// (the platform's exporter) writes them bare for non-finite floats, so the
    /// reader accepts them as numbers with this text. Only `double precision[]`
    /// fields take them (`Float8Element`); anywhere else the checker refuses them.
    public static let nan: JSONNumber = "NaN"
    public static let infinity: JSONNumber = "Infinity"
    public static let negativeInfinity: JSONNumber = "-Infinity"

    /// Whether the literal is an ordinary number without an exponent that is stored inline
    /// (at most 23 bytes): a digit, or "-" and a digit, first, and no "e"/"E". Such a number
    /// is within double precision's range (below 1e23 in magnitude, and zero or at least 1e-21),
    /// which the checker asks of every embedding element; answered from the three stored words
    /// (a byte loop over a stack copy of them was 16% of `kg admin verify`). False says
    /// nothing: ask `nonFiniteValue` and `Float8Element.plainlyInRange`.
    @inline(__always)
    public var isPlainDecimal: Bool {
        #if _endian(little)
            guard case .inline(let a, let b, let c) = storage else { return false }
            @inline(__always) func isDigit(_ byte: UInt64) -> Bool { byte &- 0x30 < 10 }
            let first = a & 0xFF
            guard isDigit(first) || (first == 0x2D && isDigit((a >> 8) & 0xFF)) else { return false }
            // SWAR: does any byte, lower-cased, equal "e"? (Padding is zero, the length byte < 24.)
            @inline(__always) func hasE(_ word: UInt64) -> Bool {
                let x = (word | 0x2020_2020_2020_2020) ^ 0x6565_6565_6565_6565
                return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080 != 0
            }
            return !hasE(a) && !hasE(b) && !hasE(c)
        #else
            return false
        #endif
    }

    /// The value of a non-finite literal, or nil for an ordinary number.
    @inline(__always)
    public var nonFiniteValue: Double? {
        // The checker asks this of every embedding element: an ordinary number starts
        // with a digit, or "-" and a digit, and is answered from its first two bytes
        // (comparing with the three static literals cost a `swift_once` each: 9% of
        // `kg admin verify`).
        let ordinary = withUTF8 { utf8 -> Bool in
            guard let first = utf8.first else { return true }
            if first >= 0x30 && first <= 0x39 { return true }
            return first == UInt8(ascii: "-") && utf8.count > 1 && utf8[1] != UInt8(ascii: "I")
        }
        if ordinary { return nil }
        switch self {
        case Self.nan: return .nan
        case Self.infinity: return .infinity
        case Self.negativeInfinity: return -.infinity
        default: return nil
        }
    }
}

extension JSONNumber: Hashable {
    public static func == (lhs: JSONNumber, rhs: JSONNumber) -> Bool {
        switch (lhs.storage, rhs.storage) {
        case (.inline(let a0, let a1, let a2), .inline(let b0, let b1, let b2)):
            return a0 == b0 && a1 == b1 && a2 == b2
        case (.text(let a), .text(let b)):
            return a == b
        default:
            // Inline and text storage never hold the same literal (text is only
            // used beyond the inline capacity).
            return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        withUTF8 { hasher.combine(bytes: $0) }
    }
}
