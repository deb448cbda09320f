import KGFormat

/// Edits of a parsed backup, for tests that make a file the real tools then read.
extension JSONValue {
    /// This value with the node at `path` (object keys, array indices as text) replaced by `new`;
    /// a path that does not exist leaves it unchanged.
    func setting(_ path: [String], to new: JSONValue) -> JSONValue {
        guard let first = path.first else { return new }
        switch self {
        case .object(var members):
            if let k = members.lastIndex(where: { $0.key == first }) {
                members[k].value = members[k].value.setting(Array(path.dropFirst()), to: new)
            }
            return .object(members)
        case .array(var elements):
            if let k = Int(first), elements.indices.contains(k) {
                elements[k] = elements[k].setting(Array(path.dropFirst()), to: new)
            }
            return .array(elements)
        default:
            return self
        }
    }

    /// This value with every string equal to `old` (an id, wherever it is referenced) made `new`.
    func replacingStrings(_ old: String, with new: String) -> JSONValue {
        switch self {
        case .string(let s): return s == old ? .string(new) : self
        case .object(let members):
            return .object(members.map { ($0.key, $0.value.replacingStrings(old, with: new)) })
        case .array(let elements): return .array(elements.map { $0.replacingStrings(old, with: new) })
        default: return self
        }
    }
}
