/// The JSON number grammar (RFC 8259 §6), checked on raw bytes.
enum JSONNumberGrammar {
    /// The length of the longest valid prefix of `bytes[start..<end]` that is a
    /// complete number, or `nil` when there is none. Callers compare with the
    /// token length to report "invalid number".
    @inline(__always)
    static func validLength(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        var sawExponent = false
        return validLength(base, start, end, sawExponent: &sawExponent)
    }

    /// ``validLength(_:_:_:)``, also saying whether the number has an exponent part.
    @inline(__always)
    static func validLength(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int, sawExponent: inout Bool) -> Int? {
        var i = start
        if i < end && base[i] == UInt8(ascii: "-") { i += 1 }
        guard i < end else { return nil }
        if base[i] == UInt8(ascii: "0") {
            i += 1
        } else if base[i] >= UInt8(ascii: "1") && base[i] <= UInt8(ascii: "9") {
            i = skipDigits(base, i + 1, end)
        } else {
            return nil
        }
        if i < end && base[i] == UInt8(ascii: ".") {
            i += 1
            guard i < end && isDigit(base[i]) else { return nil }
            i = skipDigits(base, i, end)
        }
        if i < end && (base[i] == UInt8(ascii: "e") || base[i] == UInt8(ascii: "E")) {
            sawExponent = true
            i += 1
            if i < end && (base[i] == UInt8(ascii: "+") || base[i] == UInt8(ascii: "-")) { i += 1 }
            guard i < end && isDigit(base[i]) else { return nil }
            while i < end && isDigit(base[i]) { i += 1 }
        }
        return i - start
    }

    @inline(__always)
    static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    /// The index of the first byte from `i` on that is not a digit (or `end`). Eight bytes at a
    /// time while eight remain: an embedding element's 16–17 fraction digits were a byte loop
    /// that made number parsing the checker's largest cost.
    @inline(__always)
    static func skipDigits(_ base: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        var i = start
        #if _endian(little)
            while end - i >= 8 {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                // Per byte: x = b ^ 0x30 is below 10 exactly for digits. The high bit of each byte
                // of the result is set for a non-digit: x ≥ 0x80, or (x & 0x7F) + 0x76 ≥ 0x80
                // (no carry crosses a byte: 0x7F + 0x76 < 0x100).
                let x = word ^ 0x3030_3030_3030_3030
                let nonDigit = ((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7676_7676_7676_7676 | x) & 0x8080_8080_8080_8080
                if nonDigit != 0 { return i + nonDigit.trailingZeroBitCount / 8 }
                i += 8
            }
        #endif
        while i < end && isDigit(base[i]) { i += 1 }
        return i
    }

    /// Whether all of `bytes` is exactly one JSON number.
    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return false }
            return validLength(base, 0, buf.count) == buf.count
        }
    }
}
