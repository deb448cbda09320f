#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One element of a `double precision[]` field of a backup (a concept's or a
/// vocabulary row's `embedding`), read by the one rule that the checker, the
/// replace path (binary COPY) and the merge path (text COPY) share, so that
/// `kg admin verify` and a restore always agree (docs/DESIGN.md "Values"):
///
/// - a JSON number: its correctly rounded double (`strtod`, as PostgreSQL's
///   `float8in`), refused when out of range as `float8in` refuses it: a
///   magnitude too large (`1e400`), or a nonzero literal that rounds to zero
///   (`1e-400`). Subnormals (`1e-320`) and `-0` keep their bits;
/// - the strings `"NaN"`, `"Infinity"`, `"-Infinity"` (PostgreSQL's JSON output)
///   and the bare literals `NaN`, `Infinity`, `-Infinity` (Python's): those values;
/// - `null`: a NULL element.
///
/// ```swift
/// try Float8Element(.string("NaN"))       // .value(.nan)
/// try Float8Element(.null)                // .null
/// try Float8Element(.number("1e-400"))    // throws .outOfRange("1e-400")
/// ```
public enum Float8Element: Equatable, Sendable {
    case value(Double)
    case null

    public enum Problem: Error, Equatable, Sendable {
        /// Not a number, a non-finite string or null (`found` describes it).
        case notANumber(found: String)
        /// A number literal PostgreSQL refuses as out of range for double precision.
        case outOfRange(String)

        /// The problem as the end of a sentence naming the field: "embedding holds …".
        public var message: String {
            switch self {
            case .notANumber(let found):
                return "must be an array of numbers (\"NaN\", \"Infinity\", \"-Infinity\" and null allowed), found \(found)"
            case .outOfRange(let text):
                return "holds \(text), out of range for double precision"
            }
        }
    }

    public init(_ element: JSONValue) throws(Problem) {
        switch element {
        case .number(let n):
            if let special = n.nonFiniteValue {
                self = .value(special)
            } else {
                self = .value(try Self.parse(n))
            }
        case .string(let s):
            switch s {
            case "NaN": self = .value(.nan)
            case "Infinity": self = .value(.infinity)
            case "-Infinity": self = .value(-.infinity)
            default:
                throw .notANumber(found: "the string " + JSONEscaping.quoted(s.count > 40 ? String(s.prefix(37)) + "..." : s))
            }
        case .null:
            self = .null
        default:
            throw .notANumber(found: element.kind.description)
        }
    }

    /// Whether `element` is acceptable, without converting ordinary numbers whose
    /// text is plainly in range (the checker reads every element of every embedding).
    public static func check(_ element: JSONValue) throws(Problem) {
        if case .number(let n) = element, n.isPlainDecimal || (n.nonFiniteValue == nil && plainlyInRange(n)) { return }
        _ = try Float8Element(element)
    }

    /// The double of a JSON number literal by PostgreSQL's `float8in` rule.
    public static func parse(_ number: JSONNumber) throws(Problem) -> Double {
        let result = number.withUTF8 { utf8 in Result { () throws(Problem) -> Double in try parse(literal: utf8) } }
        return try result.get()
    }

    /// The double of a number literal's bytes by PostgreSQL's `float8in` rule.
    public static func parse(literal utf8: UnsafeRawBufferPointer) throws(Problem) -> Double {
        if let exact = clingerFastPath(utf8) { return exact }
        let parsed: (Double, Bool)? = withUnsafeTemporaryAllocation(of: CChar.self, capacity: utf8.count + 1) { buffer -> (Double, Bool)? in
            let base = buffer.baseAddress!
            if utf8.count > 0 { UnsafeMutableRawPointer(base).copyMemory(from: utf8.baseAddress!, byteCount: utf8.count) }
            base[utf8.count] = 0
            var end: UnsafeMutablePointer<CChar>?
            errno = 0
            let value = strtod(base, &end)
            let rangeError = errno == ERANGE
            // JSON number text never depends on the locale's decimal point here,
            // because a number strtod does not read to its end is refused.
            guard let end, end == base + utf8.count else { return nil }
            return (value, rangeError)
        }
        let text = { String(decoding: utf8, as: UTF8.self) }
        guard let (value, rangeError) = parsed else { throw .notANumber(found: "the literal \(text())") }
        // float8in (PostgreSQL 12+): ERANGE is an error when the result is zero or
        // infinite; a subnormal result (also ERANGE in glibc) is kept.
        if rangeError && (value == 0 || value.isInfinite) { throw .outOfRange(text()) }
        if value.isInfinite { throw .outOfRange(text()) }
        return value
    }

    /// 10^p for p in 0...22, each a double without rounding. A switch, not a static array:
    /// a global's lazy initialisation check (`swift_once`) is a call on every access here.
    @inline(__always)
    static func exactPowerOfTen(_ p: Int) -> Double {
        switch p {
        case 0: return 1e0
        case 1: return 1e1
        case 2: return 1e2
        case 3: return 1e3
        case 4: return 1e4
        case 5: return 1e5
        case 6: return 1e6
        case 7: return 1e7
        case 8: return 1e8
        case 9: return 1e9
        case 10: return 1e10
        case 11: return 1e11
        case 12: return 1e12
        case 13: return 1e13
        case 14: return 1e14
        case 15: return 1e15
        case 16: return 1e16
        case 17: return 1e17
        case 18: return 1e18
        case 19: return 1e19
        case 20: return 1e20
        case 21: return 1e21
        case 22: return 1e22
        default: preconditionFailure("10^\(p) is not an exact double")
        }
    }

    /// Clinger's fast path: a literal whose significant digits make an integer m ≤ 2^53 and
    /// whose decimal exponent k is within ±22 is m × 10^k, and both m and 10^|k| are exact
    /// doubles, so one IEEE multiplication or division gives the correctly rounded value, the
    /// bits `strtod` (and so `float8in`) gives. nil for anything else (then `strtod` decides).
    /// On the bench file it answers two thirds of the embedding elements a restore encodes,
    /// where `strtod` was 38% of the worker's CPU.
    @inline(__always)
    static func clingerFastPath(_ utf8: UnsafeRawBufferPointer) -> Double? {
        guard let base = utf8.baseAddress else { return nil }
        let n = utf8.count
        var i = 0
        var negative = false
        if n > 0 && base.load(as: UInt8.self) == UInt8(ascii: "-") {
            negative = true
            i = 1
        }
        // The mantissa stays at most 2^53 (else nil), so neither step below overflows.
        var mantissa: UInt64 = 0
        var fraction = 0  // digits after the point
        var sawDigit = false
        var inFraction = false
        while i < n {
            #if _endian(little)
                if n - i >= 8 {
                    let word = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                    let x = word ^ 0x3030_3030_3030_3030
                    let nonDigit = ((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7676_7676_7676_7676 | x) & 0x8080_8080_8080_8080
                    if nonDigit == 0 {
                        // Eight digits at once (the first in the low byte): pairs, then fours, then eight.
                        guard mantissa <= 90_071_992 else { return nil }
                        var v = x
                        v = (v &* 10) &+ (v >> 8)
                        v =
                            ((v & 0x0000_00FF_0000_00FF) &* (100 &+ (1_000_000 << 32))
                                &+ ((v >> 16) & 0x0000_00FF_0000_00FF) &* (1 &+ (10_000 << 32))) >> 32
                        mantissa = mantissa &* 100_000_000 &+ v
                        if inFraction { fraction &+= 8 }
                        sawDigit = true
                        i &+= 8
                        continue
                    }
                }
            #endif
            let b = base.load(fromByteOffset: i, as: UInt8.self)
            if b &- 0x30 < 10 {
                guard mantissa <= 1 << 53 else { return nil }
                sawDigit = true
                mantissa = mantissa &* 10 &+ UInt64(b &- 0x30)
                if inFraction { fraction &+= 1 }
            } else if b == UInt8(ascii: ".") && !inFraction {
                inFraction = true
            } else {
                break
            }
            i &+= 1
        }
        guard sawDigit else { return nil }
        var exponent = 0
        if i < n {
            guard utf8[i] | 0x20 == UInt8(ascii: "e") else { return nil }
            i += 1
            var exponentNegative = false
            if i < n && (utf8[i] == UInt8(ascii: "+") || utf8[i] == UInt8(ascii: "-")) {
                exponentNegative = utf8[i] == UInt8(ascii: "-")
                i += 1
            }
            guard i < n else { return nil }
            while i < n {
                let d = utf8[i] &- 0x30
                guard d < 10, exponent < 1000 else { return nil }
                exponent = exponent * 10 + Int(d)
                i += 1
            }
            if exponentNegative { exponent = -exponent }
        }
        guard mantissa <= 1 << 53 else { return nil }
        let scale = exponent - fraction
        let value: Double
        if mantissa == 0 {
            value = 0
        } else if scale >= 0 && scale <= 22 {
            value = Double(mantissa) * exactPowerOfTen(scale)
        } else if scale < 0 && scale >= -22 {
            value = Double(mantissa) / exactPowerOfTen(-scale)
        } else {
            return nil
        }
        return negative ? -value : value
    }

    /// A literal whose magnitude is certainly within double precision's range
    /// (normal or subnormal): at most 30 bytes and an exponent of at most 270
    /// either way, so the value is within 1e-300...1e300 or exactly zero.
    @inline(__always)
    public static func plainlyInRange(_ number: JSONNumber) -> Bool {
        number.withUTF8 { plainlyInRange($0) }
    }

    /// ``plainlyInRange(_:)-(JSONNumber)`` of a literal's bytes.
    @inline(__always)
    public static func plainlyInRange(_ utf8: UnsafeRawBufferPointer) -> Bool {
        guard utf8.count <= 30 else { return false }
        var exponent = 0
        var sawE = false
        for b in utf8 {
            if sawE {
                // Capped: 28 exponent digits fit in 30 bytes and would overflow an Int.
                if b >= 0x30 && b <= 0x39 && exponent <= 270 { exponent = exponent * 10 + Int(b - 0x30) }
            } else if b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
                sawE = true
            }
        }
        return exponent <= 270
    }
}
