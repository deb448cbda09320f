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
        let parsed: (Double, Bool)? = number.withUTF8 { utf8 in
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: utf8.count + 1) { buffer -> (Double, Bool)? in
                let base = buffer.baseAddress!
                UnsafeMutableRawPointer(base).copyMemory(from: utf8.baseAddress!, byteCount: utf8.count)
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
        }
        guard let (value, rangeError) = parsed else { throw .notANumber(found: "the literal \(number.text)") }
        // float8in (PostgreSQL 12+): ERANGE is an error when the result is zero or
        // infinite; a subnormal result (also ERANGE in glibc) is kept.
        if rangeError && (value == 0 || value.isInfinite) { throw .outOfRange(number.text) }
        if value.isInfinite { throw .outOfRange(number.text) }
        return value
    }

    /// A literal whose magnitude is certainly within double precision's range
    /// (normal or subnormal): at most 30 bytes and an exponent of at most 270
    /// either way, so the value is within 1e-300...1e300 or exactly zero.
    @inline(__always)
    public static func plainlyInRange(_ number: JSONNumber) -> Bool {
        number.withUTF8 { utf8 -> Bool in
            guard utf8.count <= 30 else { return false }
            var exponent = 0
            var sawE = false
            for b in utf8 {
                if sawE {
                    if b >= 0x30 && b <= 0x39 { exponent = exponent * 10 + Int(b - 0x30) }
                } else if b == UInt8(ascii: "e") || b == UInt8(ascii: "E") {
                    sawE = true
                }
            }
            return exponent <= 270
        }
    }
}
