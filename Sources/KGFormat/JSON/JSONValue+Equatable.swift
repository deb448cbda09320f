// Tuples cannot conform to protocols, so equality of objects is spelled out.
// Equality is textual: `.number("1.0") != .number("1")`, members compare in order.
extension JSONValue: Equatable {
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.largeString(let a), .largeString(let b)): return a === b
        case (.array(let a), .array(let b)): return a == b
        case (.numbers(let a), .numbers(let b)): return a == b
        case (.numbers(let a), .array(let b)), (.array(let b), .numbers(let a)): return a.equals(b)
        case (.object(let a), .object(let b)):
            guard a.count == b.count else { return false }
            for (x, y) in zip(a, b) where x.key != y.key || x.value != y.value { return false }
            return true
        default: return false
        }
    }
}
