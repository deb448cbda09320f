/// The value rules a restore applies to a record's fields that hold arrays of
/// numbers or strings, and to relationship properties, as the checker applies
/// them: a file `kg admin verify` calls valid never fails a restore on them.
///
/// - `embedding` (concepts, vocabulary): null, or an array of `Float8Element`s.
/// - `search_terms` (concepts): null, or an array of strings and nulls (NULL
///   elements of the `text[]`). `synonyms` (vocabulary) take any list: other
///   elements are stored as their JSON text (`SchemaConverters.synonymElement`, the
///   rule of older files too); a string is read as older files' synonyms are (a JSON
///   list in text, or one synonym); null is NULL; anything else is refused.
/// - relationship `properties` are stored as jsonb, which has no NaN or
///   Infinity: a bare `NaN`/`Infinity` literal there cannot be restored.
///
/// ```swift
/// RecordValueRules.problems(section: "concepts", record: record)
/// // [(field: "embedding[2]", problem: "holds 1e-400, out of range for double precision")]
/// ```
public enum RecordValueRules {
    public struct Problem: Equatable, Sendable {
        /// The field, with the element's index when one element is at fault: "embedding[2]".
        public let field: String
        public let problem: String
    }

    /// Text columns per section (a string, or a number or boolean as its text, or null),
    /// those that must not be null, integer (`integer`, 32 bits) and boolean columns:
    /// the restore's `StagingRecordEncoder` rules. Ids are the checker's own rules.
    static let textFields: [String: [String]] = [
        "vocabulary": [
            "description", "category", "added_by", "added_at", "deprecation_reason", "embedding_model",
            "embedding_generated_at", "direction_semantics",
        ],
        "concepts": ["label", "description", "created_at"],
        "sources": ["document", "full_text", "file_path", "content_type", "garage_key", "storage_key"],
        "instances": ["quote"],
        "ontologies": ["created_at"],
    ]
    static let notNullFields: [String: [String]] = ["concepts": ["label"], "sources": ["document"], "instances": ["quote"]]
    static let integerFields: [String: [String]] = ["vocabulary": ["usage_count"], "sources": ["paragraph"]]
    static let booleanFields: [String: [String]] = ["vocabulary": ["is_active", "is_builtin"]]

    /// Fields held whole by the checker and the restore (ids, references, names, times):
    /// a string longer than `BackupReaderLimits.maxInlineStringBytes` (a ``LargeString``)
    /// cannot be one. Other text columns take strings of any length.
    public static let heldWholeFields: [String: [String]] = [
        "vocabulary": ["relationship_type", "added_at", "embedding_generated_at"],
        "concepts": ["concept_id", "created_at"],
        "sources": ["source_id"],
        "instances": ["instance_id", "concept_id", "source_id"],
        "ontologies": ["name", "created_at"],
        "relationships": ["from", "to", "type"],
    ]

    public static func problems(section: String, record: JSONValue) -> [Problem] {
        var found: [Problem] = []
        for key in heldWholeFields[section] ?? [] {
            if case .largeString(let s)? = record[key] { found.append(Problem(field: key, problem: tooLongToHold(s))) }
        }
        scalars(section, record, &found)
        switch section {
        case "concepts":
            numbers("embedding", record, &found)
            strings("search_terms", record, &found)
        case "vocabulary":
            numbers("embedding", record, &found)
            switch record["synonyms"]?.expandingNumberList {
            case .array(let items)?:
                if let index = items.firstIndex(where: { $0.largeStringValue != nil }) {
                    found.append(Problem(field: "synonyms[\(index)]", problem: listElementTooLong(items[index].largeStringValue!)))
                }
            case .string?, .null?, nil:
                break  // a string is read as older files' synonyms are (`SchemaConverters.normalizedSynonyms`)
            case .largeString(let s)?:
                found.append(Problem(field: "synonyms", problem: listElementTooLong(s)))
            case let other?:
                // Found by the system fuzzer (seed 7247028076114771519 gave a string, which the restore
                // refused): what the restore cannot store as a list is refused here, never turned into NULL.
                found.append(Problem(field: "synonyms", problem: "must be a list of strings or null, found \(other.kind)"))
            }
        case "relationships":
            switch record["properties"] {
            case .object?, .null?, nil: break
            case let other?: found.append(Problem(field: "properties", problem: "must be an object, found \(other.kind)"))
            }
            if let properties = record["properties"], let path = pathToNonFinite(properties) {
                found.append(
                    Problem(
                        field: "properties" + path,
                        problem: "holds a bare NaN or Infinity, which the database's jsonb cannot store"))
            }
            if let properties = record["properties"], let (path, s) = pathToLargeString(properties) {
                found.append(Problem(field: "properties" + path, problem: propertyTooLong(s)))
            }
        default:
            break
        }
        return found
    }

    private static func scalars(_ section: String, _ record: JSONValue, _ found: inout [Problem]) {
        for key in textFields[section] ?? [] {
            switch record[key] {
            case .array?, .numbers?, .object?: found.append(Problem(field: key, problem: "must be a string"))
            case .null?, nil:
                if notNullFields[section]?.contains(key) == true { found.append(Problem(field: key, problem: "is missing")) }
            default: break
            }
        }
        for key in integerFields[section] ?? [] where !isInteger(record[key]) {
            found.append(Problem(field: key, problem: "must be an integer"))
        }
        for key in booleanFields[section] ?? [] {
            switch record[key] {
            case .bool?, .null?, nil: break
            default: found.append(Problem(field: key, problem: "must be true or false"))
            }
        }
    }

    /// An `integer` column's value: a whole number (or its text) within 32 bits, or null.
    public static func isInteger(_ value: JSONValue?) -> Bool {
        switch value {
        case .number(let n)?: return n.intValue.map { Int32(exactly: $0) != nil } ?? false
        case .string(let s)?: return Int(s).map { Int32(exactly: $0) != nil } ?? false
        case .null?, nil: return true
        default: return false
        }
    }

    private static func numbers(_ key: String, _ record: JSONValue, _ found: inout [Problem]) {
        switch record[key] {
        case .numbers(let list)? where list.plainlyInRange:
            break  // checked as it was read
        case .numbers(let list)?:
            var problem: Problem?
            list.forEachLiteral { index, literal in
                guard problem == nil, !Float8Element.plainlyInRange(literal) else { return }
                let parsed = Result { () throws(Float8Element.Problem) -> Double in try Float8Element.parse(literal: literal) }
                if case .failure(let error) = parsed { problem = Problem(field: "\(key)[\(index)]", problem: error.message) }
            }
            if let problem { found.append(problem) }  // one finding per field, as below
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                do {
                    try Float8Element.check(item)
                } catch {
                    found.append(Problem(field: "\(key)[\(index)]", problem: error.message))
                    return  // one finding per field: a broken embedding is one problem
                }
            }
        case .null?, nil:
            break
        case let other?:
            found.append(Problem(field: key, problem: "must be an array of numbers or null, found \(other.kind)"))
        }
    }

    private static func strings(_ key: String, _ record: JSONValue, _ found: inout [Problem]) {
        switch record[key]?.expandingNumberList {
        case .array(let items)?:
            for (index, item) in items.enumerated() {
                switch item {
                case .string, .null: continue
                case .largeString(let s):
                    found.append(Problem(field: "\(key)[\(index)]", problem: listElementTooLong(s)))
                    return
                default:
                    found.append(Problem(field: "\(key)[\(index)]", problem: "must be a string or null, found \(item.kind)"))
                    return
                }
            }
        case .null?, nil:
            break
        case let other?:
            found.append(Problem(field: key, problem: "must be an array of strings or null, found \(other.kind)"))
        }
    }

    /// Why a long string cannot be an id, a reference, a name or a time.
    public static func tooLongToHold(_ s: LargeString) -> String {
        "is a string of \(s.byteCount) bytes; ids, references, names and times may hold \(BackupReaderLimits().maxInlineStringBytes) bytes at most"
    }

    /// Why a long string cannot stand inside relationship properties (held whole as jsonb text).
    public static func propertyTooLong(_ s: LargeString) -> String {
        "is a string of \(s.byteCount) bytes; strings inside relationship properties may hold \(BackupReaderLimits().maxInlineStringBytes) bytes at most"
    }

    /// Where in `value` a ``LargeString`` sits (".note", "[2]", ""), and the string; nil when none does.
    public static func pathToLargeString(_ value: JSONValue) -> (String, LargeString)? {
        switch value {
        case .largeString(let s):
            return ("", s)
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                if let (rest, s) = pathToLargeString(element) { return ("[\(i)]" + rest, s) }
            }
            return nil
        case .object(let members):
            for member in members {
                if let (rest, s) = pathToLargeString(member.value) { return ("." + member.key + rest, s) }
            }
            return nil
        case .null, .bool, .number, .numbers, .string:
            return nil
        }
    }

    /// Why a long string cannot be an element of a list (`search_terms`): list elements
    /// are held in memory whole, long strings are not.
    public static func listElementTooLong(_ s: LargeString) -> String {
        "is a string of \(s.byteCount) bytes; elements of a list may hold \(BackupReaderLimits().maxInlineStringBytes) bytes at most"
    }

    /// Where in `value` a non-finite number literal sits (".weight", "[2]", ""), or nil.
    static func pathToNonFinite(_ value: JSONValue) -> String? {
        switch value {
        case .number(let n):
            return n.nonFiniteValue == nil ? nil : ""
        case .array(let elements):
            for (i, element) in elements.enumerated() {
                if let rest = pathToNonFinite(element) { return "[\(i)]" + rest }
            }
            return nil
        case .object(let members):
            for member in members {
                if let rest = pathToNonFinite(member.value) { return "." + member.key + rest }
            }
            return nil
        case .null, .bool, .string, .largeString, .numbers:
            return nil
        }
    }
}
