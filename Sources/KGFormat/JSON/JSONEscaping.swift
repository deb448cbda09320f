/// Writes strings as JSON string literals.
///
/// ```swift
/// var out: [UInt8] = []
/// JSONEscaping.appendQuoted("tab\there \"é\"", to: &out)   // "tab\there \"é\""
/// ```
public enum JSONEscaping {
    /// Appends `s` to `out` as a quoted JSON string: `"` and `\` are escaped,
    /// control characters become `\n`, `\t`, … or `\u00XX`, and everything
    /// else (non-ASCII included) is copied as UTF-8.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { appendEscaped(UnsafeRawBufferPointer($0), to: &out) }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends UTF-8 bytes escaped as the inside of a JSON string (the rule of
    /// ``appendQuoted(_:to:)``, which is PostgreSQL's too), without quotes. The bytes
    /// may be a piece of a longer string: only ASCII bytes are escaped, so a piece
    /// may end inside a UTF-8 sequence.
    public static func appendEscaped(_ utf8: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        do {
            var runStart = 0
            for i in 0..<utf8.count {
                let b = utf8[i]
                guard b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") else { continue }
                // Copy the plain run in one go; byte-wise appends are the slow path.
                if runStart < i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart..<i])) }
                runStart = i + 1
                out.append(UInt8(ascii: "\\"))
                switch b {
                case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                case 0x08: out.append(UInt8(ascii: "b"))
                case 0x0C: out.append(UInt8(ascii: "f"))
                case 0x0A: out.append(UInt8(ascii: "n"))
                case 0x0D: out.append(UInt8(ascii: "r"))
                case 0x09: out.append(UInt8(ascii: "t"))
                default:
                    out.append(contentsOf: [
                        UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                        hexDigit(b >> 4), hexDigit(b & 0x0F),
                    ])
                }
            }
            if runStart < utf8.count { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: utf8[runStart...])) }
        }
    }

    /// `s` as a quoted JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out: [UInt8] = []
        appendQuoted(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? UInt8(ascii: "0") + v : UInt8(ascii: "a") + v - 10
    }
}
