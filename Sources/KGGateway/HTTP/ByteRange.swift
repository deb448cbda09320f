import Foundation

/// One `Range: bytes=…` request (RFC 9110 §14.1.2): `bytes=N-`, `bytes=N-M` or
/// `bytes=-S` (the last S bytes). Anything else (another unit, several ranges,
/// bad syntax) is `nil`, and the server ignores the header, as the RFC allows.
struct ByteRange: Equatable {
    enum Kind: Equatable {
        case from(Int, through: Int?)
        case suffix(Int)
    }

    let kind: Kind

    init?(header: String) {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes=") else { return nil }
        let spec = value.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return nil }
        let first = spec[..<dash]
        let last = spec[spec.index(after: dash)...]
        guard first.allSatisfy(\.isASCIIDigit), last.allSatisfy(\.isASCIIDigit), first.count <= 18, last.count <= 18 else { return nil }
        if first.isEmpty {
            guard let suffix = Int(last), suffix > 0 else { return nil }
            kind = .suffix(suffix)
        } else {
            guard let start = Int(first) else { return nil }
            let end = last.isEmpty ? nil : Int(last)
            if let end, end < start { return nil }
            kind = .from(start, through: end)
        }
    }

    /// The half-open byte span `[start, end)` of a file of `length` bytes, or nil
    /// when the range is unsatisfiable (416).
    func span(length: Int) -> Range<Int>? {
        switch kind {
        case .from(let start, let through):
            guard start < length else { return nil }
            return start..<min(length, (through ?? Int.max - 1) + 1)
        case .suffix(let count):
            guard length > 0 else { return nil }
            return max(0, length - count)..<length
        }
    }

    /// Where the range starts, for a file whose length is not known yet.
    var start: Int? {
        if case .from(let start, _) = kind { return start }
        return nil
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
