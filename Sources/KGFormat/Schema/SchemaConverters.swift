/// The chain of converters, one per schema version whose migration changed what
/// a backup holds (see `schema/MIGRATION_COMPATIBILITY.md`). A version without
/// an entry changed nothing in backups.
public enum SchemaConverters {
    /// The newest schema version this build knows. A unit test checks that it
    /// matches the highest migration in `schema/migrations`.
    public static let latestVersion = 6

    /// The oldest version a backup of ours can have (the first migration).
    public static let firstVersion = 1

    /// Platform files (no `producer`) have the shape of our version 2, plus quirks.
    public static let platformBaseVersion = 2

    public static let all: [SchemaConverter] = [
        SchemaConverter(targetVersion: 3, summary: "vocabulary synonyms become a list of strings (or null)") { section, record in
            guard section == "vocabulary" else { return record }
            return record.replacing("synonyms", with: normalizedSynonyms(record["synonyms"]))
        },
        SchemaConverter(targetVersion: 4, summary: "concepts gain created_at (null when unknown)") { section, record in
            guard section == "concepts", record["created_at"] == nil else { return record }
            return record.replacing("created_at", with: .null)
        },
    ]

    /// The converters that take records from `from` to `to`, in order.
    public static func chain(from: Int, to: Int) -> [SchemaConverter] {
        all.filter { $0.targetVersion > from && $0.targetVersion <= to }.sorted { $0.targetVersion < $1.targetVersion }
    }

    /// The platform's own quirks, on top of the v2 shape: `"None"` where it had no
    /// file path, synonyms as JSON text, no description on concepts.
    public static let platform = SchemaConverter(
        targetVersion: platformBaseVersion,
        summary: "platform backup quirks (\"None\" file paths, JSON-text synonyms)"
    ) { section, record in
        switch section {
        case "sources":
            if case .string(let path)? = record["file_path"], path == "None" || path.isEmpty {
                return record.replacing("file_path", with: .null)
            }
            return record
        case "concepts":
            return record["description"] == nil ? record.replacing("description", with: .null) : record
        default:
            return record
        }
    }

    /// Synonyms as the platform and our schema v1–v2 stored them — a list, JSON
    /// null, or a string holding `"null"`, `"[]"` or a JSON-encoded list —
    /// as a list of strings, or null when empty. JSON null, "null", [] and "[]"
    /// all mean SQL NULL.
    public static func normalizedSynonyms(_ value: JSONValue?) -> JSONValue {
        var current = value?.expandingNumberList ?? .null
        if case .string(let text) = current {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty || trimmed == "null" || trimmed == "None" {
                current = .null
            } else if trimmed.hasPrefix("["), let parsed = try? JSONValue.parse(trimmed), parsed.arrayValue != nil {
                current = parsed.expandingNumberList
            } else {
                current = .array([.string(text)])
            }
        }
        guard case .array(let items) = current, !items.isEmpty else { return .null }
        return .array(items.map(synonymElement))
    }

    /// One element of a synonyms list as the restore stores it in `varchar[]`: a string as
    /// it is, null as a NULL element, anything else as its JSON text ("3", "true").
    /// The one rule of every file version, so the checker has none to apply.
    public static func synonymElement(_ item: JSONValue) -> JSONValue {
        switch item {
        case .string, .null: return item
        default:
            var bytes: [UInt8] = []
            item.write(to: &bytes)
            return .string(String(decoding: bytes, as: UTF8.self))
        }
    }
}

extension JSONValue {
    /// The object with `key` set to `value` (replaced in place, or appended).
    public func replacing(_ key: String, with value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let index = members.lastIndex(where: { $0.key == key }) {
            members[index].value = value
        } else {
            members.append((key: key, value: value))
        }
        return .object(members)
    }
}
