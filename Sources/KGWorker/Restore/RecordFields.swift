import KGFormat

/// A backup record's fields read with the restore's type rules, for the text
/// (`StagingRecordEncoder`) and the binary (`ConceptBinaryEncoder`) COPY rows
/// alike. A wrong type is a `FieldError` naming the section, the record (with its
/// id) and the field: "concepts[3] (c1): label is empty".
struct RecordFields {
    let section: String
    let index: Int
    let record: JSONValue

    private var label: String {
        let keys = ["instances": "instance_id", "concepts": "concept_id", "sources": "source_id", "vocabulary": "relationship_type"]
        let id = keys[section].flatMap { record[$0]?.stringValue }
        return "\(section)[\(index)]" + (id.map { " (\($0))" } ?? "")
    }

    func fail(_ key: String, _ problem: String) -> StagingRecordEncoder.FieldError {
        StagingRecordEncoder.FieldError(description: "\(label): \(key) \(problem)")
    }

    /// A text column: a string as it is, a number or boolean as its text; nil for null or missing.
    /// `required`: not null; ids must not be empty either (the checker's rule), other
    /// NOT NULL text (`allowEmpty`: a label, a document name) may be.
    func text(_ key: String, required: Bool = false, allowEmpty: Bool = false) throws -> String? {
        switch record[key] {
        case .string(let s)?:
            if required && !allowEmpty && s.isEmpty { throw fail(key, "is empty") }
            return s
        case .number(let n)?: return n.text
        case .bool(let b)?: return b ? "true" : "false"
        case .largeString(let s)?: throw fail(key, RecordValueRules.tooLongToHold(s))
        case .null?, nil:
            if required { throw fail(key, "is missing") }
            return nil
        default: throw fail(key, "must be a string")
        }
    }

    /// Whether `key` is held whole (an id, a reference, a name, a time: `RecordValueRules.heldWholeFields`),
    /// so a long string cannot be it.
    func heldWhole(_ key: String) -> Bool {
        RecordValueRules.heldWholeFields[section]?.contains(key) ?? false
    }

    /// A list of strings, with NULL elements for nulls; nil for null or missing.
    func strings(_ key: String, problem: String = "must be an array of strings") throws -> [String?]? {
        switch record[key]?.expandingNumberList {
        case .array(let items)?:
            return try items.enumerated().map { index, item in
                switch item {
                case .string(let s): return s
                case .null: return nil
                case .largeString(let s): throw fail("\(key)[\(index)]", RecordValueRules.listElementTooLong(s))
                default: throw fail(key, problem)
                }
            }
        case .null?, nil: return nil
        default: throw fail(key, problem)
        }
    }

    /// The elements of a list of numbers; nil for null or missing. Each element is
    /// read by the caller as it writes it (`float8(_:_:at:)`), in one pass.
    func numberList(_ key: String) throws -> [JSONValue]? {
        switch record[key] {
        case .array(let items)?: return items
        case .numbers(let list)?: return list.elements
        case .null?, nil: return nil
        default: throw fail(key, "must be an array of numbers")
        }
    }

    /// One element of `numberList(key)`, by the checker's rule (`Float8Element`): a
    /// problem names the element ("embedding[2] holds 1e-400, out of range …").
    @inline(__always)
    func float8(_ item: JSONValue, _ key: String, at index: Int) throws -> Float8Element {
        do {
            return try Float8Element(item)
        } catch {
            throw fail("\(key)[\(index)]", error.message)
        }
    }

    /// One literal of a ``JSONNumberList`` by the same rule: its double, or a problem naming it.
    @inline(__always)
    func float8(literal: UnsafeRawBufferPointer, _ key: String, at index: Int) throws -> Double {
        do {
            return try Float8Element.parse(literal: literal)
        } catch {
            throw fail("\(key)[\(index)]", error.message)
        }
    }
}
