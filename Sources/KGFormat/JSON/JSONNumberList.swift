/// A non-empty JSON array whose elements are all number literals, as the reader makes
/// it for an embedding: the literals' text in one buffer instead of a ``JSONValue``
/// per element. It is the same value as the `.array` of those `.number`s (equal to
/// it, written the same); only the storage differs.
///
/// Why: the 28 million elements of the bench's 531 MB file were a `JSONValue` each,
/// built, checked, copied and destroyed one by one in every process that reads the
/// file (CLI, gateway, worker). Here an embedding is one copy of its text, checked
/// while it is parsed (``plainlyInRange``) and written back (`COPY` text) as it came.
///
/// ```swift
/// let list = JSONNumberList(["0.25", "-1e-7", "3"])!
/// list.count                 // 3
/// list.elements              // [.number("0.25"), .number("-1e-7"), .number("3")]
/// JSONValue.numbers(list) == [.number("0.25"), .number("-1e-7"), .number("3")]   // true
/// ```
public struct JSONNumberList: Sendable {
    /// The literals in order, each but the last followed by one comma: `0.25,-1e-7,3`.
    let text: [UInt8]
    /// How many elements.
    public let count: Int
    /// Whether every element is certainly a double within range (normal, subnormal or
    /// zero): at most 30 bytes and an exponent of at most 270 either way, the rule of
    /// ``Float8Element/plainlyInRange(_:)``. When true the checker need not convert any.
    public let plainlyInRange: Bool

    /// From literals the reader has checked against the JSON number grammar.
    init(validText text: [UInt8], count: Int, plainlyInRange: Bool) {
        self.text = text
        self.count = count
        self.plainlyInRange = plainlyInRange
    }

    /// A list of these literals; nil when there are none or one is not a JSON number
    /// (a non-finite literal such as `NaN` included: those stay `.array` elements).
    public init?(_ literals: [String]) {
        var text: [UInt8] = []
        var plain = true
        for literal in literals {
            let bytes = Array(literal.utf8)
            guard JSONNumberGrammar.isValid(bytes) else { return nil }
            if !text.isEmpty { text.append(UInt8(ascii: ",")) }
            text.append(contentsOf: bytes)
            plain = plain && bytes.withUnsafeBytes { Float8Element.plainlyInRange($0) }
        }
        guard !literals.isEmpty else { return nil }
        self.init(validText: text, count: literals.count, plainlyInRange: plain)
    }

    /// Calls `body` with each element's index and literal bytes (valid only inside `body`).
    @inline(__always)
    public func forEachLiteral(_ body: (_ index: Int, _ literal: UnsafeRawBufferPointer) throws -> Void) rethrows {
        try text.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            let end = raw.count
            var start = 0
            var index = 0
            var i = 0
            while i < end {
                if raw[i] == UInt8(ascii: ",") {
                    try body(index, UnsafeRawBufferPointer(start: base + start, count: i - start))
                    index += 1
                    start = i + 1
                }
                i += 1
            }
            try body(index, UnsafeRawBufferPointer(start: base + start, count: end - start))
        }
    }

    /// The literals joined by commas, as JSON and PostgreSQL's array text both write them.
    public func withJoinedLiterals<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try text.withUnsafeBytes(body)
    }

    /// The elements as `.number` values (a copy per element: for the rare reader that
    /// needs them one by one).
    public var elements: [JSONValue] {
        var out: [JSONValue] = []
        out.reserveCapacity(count)
        forEachLiteral { _, literal in out.append(.number(JSONNumber(literal: literal))) }
        return out
    }

    /// The element at `index`, nil when out of range.
    public func number(at index: Int) -> JSONNumber? {
        guard index >= 0 && index < count else { return nil }
        var found: JSONNumber?
        forEachLiteral { i, literal in if i == index { found = JSONNumber(literal: literal) } }
        return found
    }
}

extension JSONNumberList: Equatable {
    /// Textual, as ``JSONNumber``'s: the same literals in the same order.
    public static func == (lhs: JSONNumberList, rhs: JSONNumberList) -> Bool {
        lhs.count == rhs.count && lhs.text == rhs.text
    }

    /// Whether `elements` are `.number`s with exactly these literals.
    func equals(_ elements: [JSONValue]) -> Bool {
        guard elements.count == count else { return false }
        var same = true
        forEachLiteral { index, literal in
            guard same, case .number(let n) = elements[index] else {
                same = false
                return
            }
            same = n.withUTF8 { $0.elementsEqual(literal) }
        }
        return same
    }
}

extension JSONNumber {
    /// A number from literal bytes already checked against the grammar.
    init(literal: UnsafeRawBufferPointer) {
        self.init(validBytes: literal.baseAddress!.assumingMemoryBound(to: UInt8.self), count: literal.count, readable: literal.count)
    }
}
