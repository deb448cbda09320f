/// Reads `token; name=value; name="quoted \"value\""` header values, the grammar shared by
/// `Content-Type` (RFC 9110 §5.6.6) and `Content-Disposition` (RFC 6266).
///
/// ```swift
/// var scanner = HeaderParameterScanner(Array(#"form-data; name="file"; filename="a.kgb""#.utf8)[...])
/// let type = scanner.readToken()            // "form-data"
/// let parameters = scanner.readParameters() // [("name", "file"), ("filename", "a.kgb")]
/// ```
struct HeaderParameterScanner {
    struct Parameter {
        /// As sent; compare it case-insensitively.
        var name: [UInt8]
        /// With quotes removed and backslash escapes resolved.
        var value: [UInt8]
    }

    private let bytes: ArraySlice<UInt8>
    private var index: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.index = bytes.startIndex
    }

    /// The leading value (up to `;`), trimmed; nil when it is empty.
    mutating func readToken() -> ArraySlice<UInt8>? {
        skipWhitespace()
        let start = index
        while index < bytes.endIndex, bytes[index] != UInt8(ascii: ";") { index += 1 }
        var end = index
        while end > start, isWhitespace(bytes[end - 1]) { end -= 1 }
        return end > start ? bytes[start..<end] : nil
    }

    /// Every `; name=value` that follows, in order; nil when one is malformed (no `=`,
    /// an empty name, an unterminated quote, or text after a quoted value).
    mutating func readParameters() -> [Parameter]? {
        var parameters: [Parameter] = []
        while true {
            skipWhitespace()
            guard index < bytes.endIndex else { return parameters }
            guard bytes[index] == UInt8(ascii: ";") else { return nil }
            index += 1
            skipWhitespace()
            // Tolerate a trailing or doubled `;`, as some clients send one.
            if index == bytes.endIndex || bytes[index] == UInt8(ascii: ";") { continue }
            let nameStart = index
            while index < bytes.endIndex, bytes[index] != UInt8(ascii: "="), bytes[index] != UInt8(ascii: ";"),
                !isWhitespace(bytes[index])
            {
                index += 1
            }
            let name = Array(bytes[nameStart..<index])
            skipWhitespace()
            guard !name.isEmpty, index < bytes.endIndex, bytes[index] == UInt8(ascii: "=") else { return nil }
            index += 1
            skipWhitespace()
            guard let value = readValue() else { return nil }
            parameters.append(Parameter(name: name, value: value))
        }
    }

    private mutating func readValue() -> [UInt8]? {
        guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "\"") else {
            let start = index
            while index < bytes.endIndex, bytes[index] != UInt8(ascii: ";") { index += 1 }
            var end = index
            while end > start, isWhitespace(bytes[end - 1]) { end -= 1 }
            return Array(bytes[start..<end])
        }
        index += 1
        var value: [UInt8] = []
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return value
            case UInt8(ascii: "\\") where index < bytes.endIndex:
                value.append(bytes[index])
                index += 1
            default:
                value.append(byte)
            }
        }
        return nil
    }

    /// Whether `bytes` spell `lowercaseName` in ASCII, ignoring case (header and parameter names).
    static func matches(_ bytes: some Collection<UInt8>, _ lowercaseName: String) -> Bool {
        bytes.elementsEqual(lowercaseName.utf8) { byte, expected in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 == expected : byte == expected
        }
    }

    private mutating func skipWhitespace() {
        while index < bytes.endIndex, isWhitespace(bytes[index]) { index += 1 }
    }

    private func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}
