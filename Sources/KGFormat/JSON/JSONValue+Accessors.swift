extension JSONValue {
    /// What kind of value this is.
    public var kind: JSONKind {
        switch self {
        case .null: return .null
        case .bool: return .bool
        case .number: return .number
        case .string, .largeString: return .string
        case .array, .numbers: return .array
        case .object: return .object
        }
    }

    /// The member named `key`; when the key appears more than once, the last
    /// occurrence wins, as in most JSON readers. `nil` when not an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        // Search from the end so that the last duplicate wins.
        for member in members.reversed() where member.key == key {
            return member.value
        }
        return nil
    }

    /// The element at `index` of an array, `nil` when out of range or not an array.
    public subscript(index: Int) -> JSONValue? {
        if case .numbers(let list) = self { return list.number(at: index).map(JSONValue.number) }
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    /// Whether this is JSON `null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The string, or `nil` when this is not a string (a ``LargeString`` included:
    /// see ``largeStringValue``).
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The long string, or `nil` when this is not one.
    public var largeStringValue: LargeString? {
        if case .largeString(let s) = self { return s }
        return nil
    }

    /// The boolean, or `nil` when this is not `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The number's literal text.
    public var numberLiteral: String? {
        if case .number(let raw) = self { return raw.text }
        return nil
    }

    /// The number as an `Int` when its literal is an integer that fits
    /// (`12`, `-3`); `nil` for `1.5`, `1e3` or anything out of range.
    public var intValue: Int? {
        if case .number(let raw) = self { return raw.intValue }
        return nil
    }

    /// The number as a `Double` (may round; use ``numberLiteral`` to keep every digit).
    public var doubleValue: Double? {
        if case .number(let raw) = self { return raw.doubleValue }
        return nil
    }

    /// The elements, or `nil` when this is not an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        if case .numbers(let list) = self { return list.elements }
        return nil
    }

    /// This value with a ``JSONNumberList`` at its top turned into the `.array` of its
    /// numbers (anything else as it is): for code that matches `.array` and is not on
    /// the path of every embedding.
    public var expandingNumberList: JSONValue {
        if case .numbers(let list) = self { return .array(list.elements) }
        return self
    }

    /// The object's members in file order, duplicates included.
    public var objectMembers: [(key: String, value: JSONValue)]? {
        if case .object(let m) = self { return m }
        return nil
    }

    /// A number value from an integer.
    public static func integer(_ value: Int) -> JSONValue {
        .number(JSONNumber(value))
    }

    /// A number value from literal text, or `nil` when the text is not a JSON number.
    public init?(numberLiteral text: String) {
        guard JSONNumberGrammar.isValid(Array(text.utf8)) else { return nil }
        self = .number(JSONNumber(text))
    }
}
