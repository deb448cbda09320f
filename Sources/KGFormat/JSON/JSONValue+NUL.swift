extension JSONValue {
    /// Where in this value a string or a member name holds U+0000 (".label",
    /// ".properties.note", "[3]", "" for this value itself), or nil. JSON can carry
    /// it only as the escape \u0000; PostgreSQL text and jsonb cannot hold it, and
    /// libpq's C strings would cut a bound value short at it.
    public var pathToNUL: String? {
        switch self {
        case .string(let s):
            return s.utf8.contains(0) ? "" : nil
        case .largeString(let s):
            return s.containsNUL ? "" : nil
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                if case .number = element { continue }
                if let rest = element.pathToNUL { return "[\(i)]" + rest }
            }
            return nil
        case .object(let members):
            for member in members {
                if member.key.utf8.contains(0) { return "." + JSONEscaping.quoted(member.key) }
                if let rest = member.value.pathToNUL { return "." + member.key + rest }
            }
            return nil
        case .null, .bool, .number, .numbers:
            return nil
        }
    }
}
