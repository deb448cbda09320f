// Codable lets JSONValue sit inside Codable types such as IntegrityReport.
// Coders cannot carry raw number text or member order; where exactness matters,
// use `write(to:)` and the stream reader instead.
extension JSONValue: Codable {
    public init(from decoder: Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            var elements: [JSONValue] = []
            while !array.isAtEnd { elements.append(try array.decode(JSONValue.self)) }
            self = .array(elements)
            return
        }
        if let object = try? decoder.container(keyedBy: AnyKey.self) {
            self = .object(try object.allKeys.map { (key: $0.stringValue, value: try object.decode(JSONValue.self, forKey: $0)) })
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            self = .null
        } else if let b = try? single.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? single.decode(Int64.self) {
            self = .number(JSONNumber(String(i)))
        } else if let d = try? single.decode(Double.self) {
            self = .number(JSONNumber(d.isFinite ? "\(d)" : "0"))
        } else {
            self = .string(try single.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .number(let raw):
            var c = encoder.singleValueContainer()
            if let i = Int64(raw.text) {
                try c.encode(i)
            } else {
                try c.encode(Double(raw.text) ?? 0)
            }
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .largeString(let s):
            // Whole, in memory: large strings come from backup files, not from API values.
            var c = encoder.singleValueContainer()
            try c.encode(try s.loadString())
        case .array(let elements):
            var c = encoder.unkeyedContainer()
            for e in elements { try c.encode(e) }
        case .numbers(let list):
            var c = encoder.unkeyedContainer()
            for e in list.elements { try c.encode(e) }
        case .object(let members):
            var c = encoder.container(keyedBy: AnyKey.self)
            for m in members { try c.encode(m.value, forKey: AnyKey(m.key)) }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}
