/// The JSON number grammar (RFC 8259 §6), checked on raw bytes.
enum JSONNumberGrammar {
    /// The length of the longest valid prefix of `bytes[start..<end]` that is a
    /// complete number, or `nil` when there is none. Callers compare with the
    /// token length to report "invalid number".
    @inline(__always)
    static func validLength(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        var i = start
        if i < end && base[i] == UInt8(ascii: "-") { i += 1 }
        guard i < end else { return nil }
        if base[i] == UInt8(ascii: "0") {
            i += 1
        } else if base[i] >= UInt8(ascii: "1") && base[i] <= UInt8(ascii: "9") {
            i += 1
            while i < end && isDigit(base[i]) { i += 1 }
        } else {
            return nil
        }
        if i < end && base[i] == UInt8(ascii: ".") {
            i += 1
            guard i < end && isDigit(base[i]) else { return nil }
            while i < end && isDigit(base[i]) { i += 1 }
        }
        if i < end && (base[i] == UInt8(ascii: "e") || base[i] == UInt8(ascii: "E")) {
            i += 1
            if i < end && (base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < end && isDigit(base[i]) else { return nil }
            while i < end && isDigit(base[i]) { i += 1 }
        }
        return i - start
    }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    /// Whether all of `bytes` is exactly one JSON number.
    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return false }
            return validLength(base, 0, buf.count) == buf.count
        }
    }
}
