import Foundation
import KGFormat

/// Concept records as rows of a binary `COPY kg.concepts (concept_id, label,
/// description, search_terms, embedding, created_at) FROM STDIN (FORMAT binary)`.
///
/// Why binary: a concept is mostly its embedding, and in text form PostgreSQL
/// parses every element of a `double precision[]` itself (`array_in` and
/// `float8in`, about half of its CPU in a restore). Here the worker, on the other
/// core, turns each number into its IEEE bits with `strtod` — the same correctly
/// rounded conversion `float8in` makes, with its range rule (`Float8Element`), so
/// the stored values are bit for bit the ones the text form gives. `created_at` is NULL in the binary row: its text
/// is returned for PostgreSQL to parse afterwards (`RestoreSQL.conceptCreatedAt`),
/// so every timestamp form PostgreSQL accepts still works.
///
/// Field checks and messages are those of `StagingRecordEncoder` (`RecordFields`).
///
/// ```swift
/// var out = ConceptBinaryEncoder.header
/// var inserts: [LargeValueRow.Insert] = []
/// let (id, createdAt) = try ConceptBinaryEncoder.append(index: 0, record: record, to: &out, inserts: &inserts)
/// out += ConceptBinaryEncoder.trailer
/// ```
enum ConceptBinaryEncoder {
    /// The columns of the binary rows, in order.
    /// `created_at` is always NULL in the row (not left out, which would give it the column's
    /// default); its text is returned for PostgreSQL to parse afterwards.
    static let columns = ["concept_id", "label", "description", "search_terms", "embedding", "created_at"]

    /// The binary COPY signature, flags and header extension length.
    static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]
    /// The file trailer: a field count of -1.
    static let trailer: [UInt8] = [0xFF, 0xFF]

    private static let textOID: UInt32 = 25
    private static let float8OID: UInt32 = 701

    /// Appends one row for the `index`-th concept; returns its id and its `created_at` text (nil for NULL).
    /// A long label or description (``LargeString``) is not copied into `out`: its length is,
    /// and an insert marks where its bytes go (``LargeValueRow/write(_:_:to:)`` streams them).
    static func append(
        index: Int, record: JSONValue, to out: inout [UInt8],
        inserts: inout [LargeValueRow.Insert]
    ) throws -> (conceptID: String, createdAt: String?) {
        guard case .object = record else {
            throw StagingRecordEncoder.FieldError(description: "concepts[\(index)] is not an object")
        }
        let fields = RecordFields(section: "concepts", index: index, record: record)
        appendInt16(Int16(columns.count), to: &out)
        let conceptID = try fields.text("concept_id", required: true)!
        appendText(conceptID, to: &out)
        for key in ["label", "description"] {
            if case .largeString(let s)? = record[key] {
                guard s.byteCount <= Int(Int32.max) else { throw fields.fail(key, "is longer than a database value may be") }
                appendInt32(Int32(s.byteCount), to: &out)
                inserts.append(LargeValueRow.Insert(at: out.count, value: s, escaping: .raw))
            } else {
                appendText(try fields.text(key, required: key == "label", allowEmpty: true), to: &out)
            }
        }
        appendTextArray(try fields.strings("search_terms") ?? [], to: &out)  // NOT NULL DEFAULT '{}'
        try appendEmbedding(fields, to: &out)
        appendText(nil, to: &out)
        return (conceptID, try fields.text("created_at"))
    }

    // MARK: - Fields

    private static func appendText(_ text: String?, to out: inout [UInt8]) {
        guard var text else {
            appendInt32(-1, to: &out)
            return
        }
        text.withUTF8 { utf8 in
            appendInt32(Int32(utf8.count), to: &out)
            out.append(contentsOf: utf8)
        }
    }

    /// A one-dimensional `text[]` (an empty list: a zero-dimension array, as `'{}'` is).
    private static func appendTextArray(_ items: [String?], to out: inout [UInt8]) {
        var body: [UInt8] = []
        arrayHeader(count: items.count, hasNulls: items.contains(nil), elementType: textOID, to: &body)
        for item in items { appendText(item, to: &body) }
        appendInt32(Int32(body.count), to: &out)
        out.append(contentsOf: body)
    }

    /// A one-dimensional `double precision[]` (null or missing: empty, as the column's default),
    /// written in place with its length patched afterwards.
    private static func appendEmbedding(_ fields: RecordFields, to out: inout [UInt8]) throws {
        if case .numbers(let list)? = fields.record["embedding"] {
            // As the reader held them: each literal converted straight from its bytes.
            appendInt32(Int32(20 + 12 * list.count), to: &out)
            arrayHeader(count: list.count, hasNulls: false, elementType: float8OID, to: &out)
            out.reserveCapacity(out.count + list.count * 12)
            try list.forEachLiteral { index, literal in
                let value = try fields.float8(literal: literal, "embedding", at: index)
                appendInt32(8, to: &out)
                appendUInt64(value.bitPattern, to: &out)
            }
            return
        }
        let items = try fields.numberList("embedding") ?? []
        let lengthAt = out.count
        appendInt32(0, to: &out)
        let flagsAt = out.count + 4
        arrayHeader(count: items.count, hasNulls: false, elementType: float8OID, to: &out)
        out.reserveCapacity(out.count + items.count * 12)
        for (index, item) in items.enumerated() {
            // The checker's rule (`Float8Element`): numbers by float8in's rule, "NaN"/"Infinity"
            // strings and bare literals, null elements.
            switch try fields.float8(item, "embedding", at: index) {
            case .value(let value):
                appendInt32(8, to: &out)
                appendUInt64(value.bitPattern, to: &out)
            case .null:
                appendInt32(-1, to: &out)
                out[flagsAt + 3] = 1  // the array's has-nulls flag
            }
        }
        let length = Int32(out.count - lengthAt - 4)
        withUnsafeBytes(of: length.bigEndian) { raw in
            for k in 0..<4 { out[lengthAt + k] = raw[k] }
        }
    }

    private static func arrayHeader(count: Int, hasNulls: Bool, elementType: UInt32, to out: inout [UInt8]) {
        appendInt32(count == 0 ? 0 : 1, to: &out)  // dimensions
        appendInt32(hasNulls ? 1 : 0, to: &out)  // whether elements may be NULL
        appendUInt32(elementType, to: &out)
        if count > 0 {
            appendInt32(Int32(count), to: &out)
            appendInt32(1, to: &out)  // lower bound
        }
    }

    // MARK: - Big-endian integers

    @inline(__always) private static func appendInt16(_ v: Int16, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    @inline(__always) private static func appendInt32(_ v: Int32, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    @inline(__always) private static func appendUInt32(_ v: UInt32, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    @inline(__always) private static func appendUInt64(_ v: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }
}
