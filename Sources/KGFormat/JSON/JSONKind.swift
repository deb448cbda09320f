/// The kind of a JSON value, for messages such as "data is an array, not an object".
public enum JSONKind: String, Sendable, Codable, CustomStringConvertible {
    case null, bool, number, string, array, object

    /// The kind with an article, ready for a sentence: "an array", "a string".
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}
