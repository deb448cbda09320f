import KGDatabase
import KGFormat

/// Turns backup records into COPY text rows for the staging tables, checking
/// each field's JSON type on the way (a wrong type is a clear error naming the
/// section, the record and the field, not a database message).
///
/// Numbers keep the text the file wrote (embeddings arrive in PostgreSQL exactly).
enum StagingRecordEncoder {
    /// Staging columns per section, in COPY order (after `ord`).
    static let columns: [String: [String]] = [
        "vocabulary": [
            "relationship_type", "description", "category", "added_by", "added_at", "usage_count", "is_active",
            "is_builtin", "synonyms", "deprecation_reason", "embedding_model", "embedding_generated_at",
            "embedding", "direction_semantics",
        ],
        "concepts": ["concept_id", "label", "description", "search_terms", "embedding", "created_at"],
        "sources": ["source_id", "document", "paragraph", "full_text", "file_path", "content_type", "garage_key", "storage_key"],
        "instances": ["instance_id", "quote", "concept_id", "source_id"],
        "ontologies": ["name", "created_at"],
        "relationships": ["from_id", "to_id", "type", "properties"],
    ]

    struct FieldError: Error, CustomStringConvertible {
        let description: String
    }

    /// Appends one row (terminated by a newline) for `record`, the `index`-th of `section`;
    /// with an `ordinal` first (staging tables), without one for a live table.
    /// Long strings (``LargeString``) of text columns are not copied into `out`: each is an
    /// insert at its place, for ``LargeValueRow/write(_:_:to:)`` to stream.
    static func append(
        section: String, index: Int, record: JSONValue, ordinal: Int?, to out: inout [UInt8],
        inserts: inout [LargeValueRow.Insert]
    ) throws {
        guard case .object = record else {
            throw FieldError(description: "\(section)[\(index)] is not an object")
        }
        var encoder = RowEncoder(fields: RecordFields(section: section, index: index, record: record))
        if let ordinal { out.append(contentsOf: String(ordinal).utf8) }
        switch section {
        case "vocabulary":
            try encoder.text("relationship_type", required: true)
            try encoder.text("description")
            try encoder.text("category")
            try encoder.text("added_by")
            try encoder.text("added_at")
            try encoder.integer("usage_count")
            try encoder.boolean("is_active")
            try encoder.boolean("is_builtin")
            try encoder.synonyms("synonyms")
            try encoder.text("deprecation_reason")
            try encoder.text("embedding_model")
            try encoder.text("embedding_generated_at")
            try encoder.numbers("embedding")
            try encoder.text("direction_semantics")
        case "concepts":
            try encoder.text("concept_id", required: true)
            try encoder.text("label", required: true, allowEmpty: true)
            try encoder.text("description")
            try encoder.strings("search_terms", nullAsEmpty: true)
            try encoder.numbers("embedding", nullAsEmpty: true)
            try encoder.text("created_at")
        case "sources":
            try encoder.text("source_id", required: true)
            try encoder.text("document", required: true, allowEmpty: true)
            try encoder.integer("paragraph")
            try encoder.text("full_text")
            try encoder.text("file_path")
            try encoder.text("content_type")
            try encoder.text("garage_key")
            try encoder.text("storage_key")
        case "instances":
            try encoder.text("instance_id", required: true)
            try encoder.text("quote")
            // null: an instance that evidences no concept (kg's files; the checker refuses it in others)
            try encoder.text("concept_id")
            try encoder.text("source_id", required: true)
        case "ontologies":
            try encoder.text("name", required: true)
            try encoder.text("created_at")
        default:  // relationships
            try encoder.text("from", required: true)
            try encoder.text("to", required: true)
            try encoder.text("type", required: true)
            try encoder.json("properties")
        }
        // Every field starts with a tab; without an ordinal the first one has nothing to separate.
        let shift = out.count - (ordinal == nil ? 1 : 0)
        out.append(contentsOf: ordinal == nil ? encoder.row.dropFirst() : encoder.row[...])
        for var insert in encoder.inserts {
            insert.at += shift
            inserts.append(insert)
        }
        out.append(0x0A)
    }
}

/// Encodes one record's fields, each preceded by a tab.
private struct RowEncoder {
    let fields: RecordFields
    var row: [UInt8] = []
    var inserts: [LargeValueRow.Insert] = []

    // Array elements float8in reads as themselves.
    private static let nullElement = Array("NULL".utf8)
    private static let nanElement = Array("NaN".utf8)
    private static let infinityElement = Array("Infinity".utf8)
    private static let minusInfinityElement = Array("-Infinity".utf8)

    init(fields: RecordFields) {
        self.fields = fields
        row.reserveCapacity(256)
    }

    private mutating func null() {
        row.append(0x09)
        row.append(contentsOf: CopyText.null)
    }

    private mutating func value(_ text: String) {
        row.append(0x09)
        CopyText.appendField(text, to: &row)
    }

    mutating func text(_ key: String, required: Bool = false, allowEmpty: Bool = false) throws {
        if case .largeString(let s)? = fields.record[key], !fields.heldWhole(key) {
            // Streamed into COPY at this place (`LargeValueRow`).
            row.append(0x09)
            inserts.append(LargeValueRow.Insert(at: row.count, value: s, escaping: .copyText))
            return
        }
        if let s = try fields.text(key, required: required, allowEmpty: allowEmpty) { value(s) } else { null() }
    }

    /// An `integer` column (`RecordValueRules.isInteger`, the checker's rule).
    mutating func integer(_ key: String) throws {
        guard RecordValueRules.isInteger(fields.record[key]) else { throw fields.fail(key, "must be an integer") }
        switch fields.record[key] {
        case .number(let n)?: value(n.text)
        case .string(let s)?: value(s)
        default: null()
        }
    }

    mutating func boolean(_ key: String) throws {
        switch fields.record[key] {
        case .bool(let b)?: value(b ? "true" : "false")
        case .null?, nil: null()
        default: throw fields.fail(key, "must be true or false")
        }
    }

    mutating func strings(_ key: String, nullAsEmpty: Bool = false) throws {
        if let texts = try fields.strings(key) {
            value(CopyText.textArrayWithNulls(texts))
        } else if nullAsEmpty {
            value("{}")
        } else {
            null()
        }
    }

    /// Vocabulary synonyms at the current schema: a list, or null (an empty list too); elements
    /// as `SchemaConverters.synonymElement` says (older shapes are converted before this).
    mutating func synonyms(_ key: String) throws {
        switch fields.record[key]?.expandingNumberList {
        case .array(let items)? where !items.isEmpty:
            if let index = items.firstIndex(where: { $0.largeStringValue != nil }) {
                throw fields.fail("\(key)[\(index)]", RecordValueRules.listElementTooLong(items[index].largeStringValue!))
            }
            value(CopyText.textArrayWithNulls(items.map { SchemaConverters.synonymElement($0).stringValue }))
        case .array?, .null?, nil:
            null()
        case .string(let text)?:
            // As older files' synonyms are read, and as the checker lets it through (RecordValueRules).
            if case .array(let items) = SchemaConverters.normalizedSynonyms(.string(text)) {
                value(CopyText.textArrayWithNulls(items.map(\.stringValue)))
            } else {
                null()
            }
        default:
            throw fields.fail(key, "must be a list of strings or null")
        }
    }

    mutating func numbers(_ key: String, nullAsEmpty: Bool = false) throws {
        if case .numbers(let list)? = fields.record[key] {
            // As the reader held them: literals joined by commas, each checked (or plainly in range).
            if !list.plainlyInRange {
                try list.forEachLiteral { index, literal in
                    if !Float8Element.plainlyInRange(literal) { _ = try fields.float8(literal: literal, key, at: index) }
                }
            }
            row.append(0x09)
            row.append(UInt8(ascii: "{"))
            list.withJoinedLiterals { row.append(contentsOf: $0) }
            row.append(UInt8(ascii: "}"))
            return
        }
        guard let items = try fields.numberList(key) else {
            if nullAsEmpty { value("{}") } else { null() }
            return
        }
        // A double precision[] literal, written straight from the numbers' text (float8in
        // then makes the bits strtod makes), after the checker's rule (`Float8Element`).
        row.append(0x09)
        row.append(UInt8(ascii: "{"))
        for (index, item) in items.enumerated() {
            if index > 0 { row.append(UInt8(ascii: ",")) }
            if case .number(let n) = item {
                let plain = n.isPlainDecimal
                if plain || n.nonFiniteValue == nil {
                    if !plain && !Float8Element.plainlyInRange(n) { _ = try fields.float8(item, key, at: index) }
                    n.append(to: &row)
                    continue
                }
            }
            switch try fields.float8(item, key, at: index) {
            case .null: row.append(contentsOf: Self.nullElement)
            case .value(let d): row.append(contentsOf: d.isNaN ? Self.nanElement : d > 0 ? Self.infinityElement : Self.minusInfinityElement)
            }
        }
        row.append(UInt8(ascii: "}"))
    }

    mutating func json(_ key: String) throws {
        switch fields.record[key] {
        case .object?:
            if let (path, s) = RecordValueRules.pathToLargeString(fields.record[key]!) {
                throw fields.fail(key + path, RecordValueRules.propertyTooLong(s))
            }
            row.append(0x09)
            var bytes: [UInt8] = []
            fields.record[key]!.write(to: &bytes)
            CopyText.appendField(String(decoding: bytes, as: UTF8.self), to: &row)
        case .null?, nil: value("{}")
        default: throw fields.fail(key, "must be an object")
        }
    }
}
