extension JSONValue {
    /// Appends the compact JSON text of this value (no spaces, members in
    /// order, duplicates kept, numbers as their literal text).
    public func write(to out: inout [UInt8]) {
        switch self {
        case .null:
            out.append(contentsOf: JSONValue.nullBytes)
        case .bool(let b):
            out.append(contentsOf: b ? JSONValue.trueBytes : JSONValue.falseBytes)
        case .number(let raw):
            raw.append(to: &out)
        case .string(let s):
            JSONEscaping.appendQuoted(s, to: &out)
        case .largeString(let s):
            // Whole, in memory (the restore streams these itself: `LargeValueRow`).
            JSONEscaping.appendQuoted((try? s.loadString()) ?? "", to: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                element.write(to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .numbers(let list):
            out.append(UInt8(ascii: "["))
            list.withJoinedLiterals { out.append(contentsOf: $0) }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONEscaping.appendQuoted(member.key, to: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The compact JSON text of this value as bytes.
    public var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        write(to: &out)
        return out
    }

    /// The compact JSON text of this value.
    public var jsonText: String {
        String(decoding: jsonBytes, as: UTF8.self)
    }

    private static let nullBytes: [UInt8] = Array("null".utf8)
    private static let trueBytes: [UInt8] = Array("true".utf8)
    private static let falseBytes: [UInt8] = Array("false".utf8)
}
