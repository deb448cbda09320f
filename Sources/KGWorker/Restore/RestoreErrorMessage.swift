import Foundation
import KGDatabase

/// PostgreSQL's refusal of a value while a restore loads or indexes the
/// records, said in the backup's terms: which record, which field, and what to
/// do. The file's own rules (BACKUP_FORMAT.md) are about shape and references;
/// whether `"-1e999999"` is a timestamp, or whether a 3,000-byte id fits in an
/// index, only the database decides, inside the restore's transaction — so
/// nothing has changed when this message is shown.
///
/// ```
/// invalid input syntax for type timestamp with time zone: "-1e999999"
/// CONTEXT:  COPY stage_vocabulary, line 10, column added_at: "-1e999999"
/// ```
/// becomes "the backup cannot be restored: vocabulary[9], field added_at: invalid
/// input syntax for type timestamp with time zone: "-1e999999". …"
enum RestoreErrorMessage {
    /// `error` as a ``JobFailure`` that names the record when it is a data
    /// exception (SQLSTATE class 22) or a value too large for an index (54000);
    /// any other error unchanged.
    static func translate(_ error: Error, source: Located? = nil) -> Error {
        guard let pg = error as? PGError, let state = pg.sqlState, state.hasPrefix("22") || state == "54000" else { return error }
        let lines = pg.message.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let problem = lines.first ?? pg.message
        // The index PostgreSQL names (its diagnostics, or the message) says which field; some
        // refusals name none ("index row requires 12024 bytes, maximum size is 8191", or a
        // timestamp that a statement, not a COPY, parses): then the statement that failed
        // does (`source`, set around each statement that indexes or parses file values).
        let index = pg.constraint ?? quotedIndexName(problem)
        let field = index.flatMap { indexedField($0, source: source) } ?? source
        var place = "a value in it"
        if let context = lines.first(where: { $0.contains("COPY ") }), let copy = copyPlace(context, field: field) {
            place = copy
        } else if let field {
            place = "a record of \(field.section), \(field.fields)"
        }
        let tooLarge = state == "54000" ? " (a value this long cannot be indexed; shorten it)" : ""
        return JobFailure(
            .badInput,
            """
            the backup cannot be restored: \(place): \(problem)\(tooLarge). Nothing was changed; \
            correct that record or make a new backup with `kg admin backup`
            """)
    }

    /// Where a value PostgreSQL refused came from in the backup: a section and the field(s) of its records.
    struct Located: Equatable, Sendable {
        let section: String
        let columns: [String]
        /// "field document", or "fields instance_id and concept_id".
        var fields: String {
            columns.count == 1 ? "field \(columns[0])" : "fields \(columns.joined(separator: " and "))"
        }
    }

    /// The statement a restore is running, said as the backup field(s) whose values its indexes
    /// take: read by ``translate(_:source:)`` when PostgreSQL's refusal names no index. Set
    /// around each statement that writes indexed values; left set when the statement throws.
    final class Hint {
        private(set) var located: Located?

        /// Nested: the inner statement's fields while it runs, the outer ones again after it.
        func during<T>(_ section: String, _ columns: [String], _ body: () throws -> T) rethrows -> T {
            let outer = located
            located = Located(section: section, columns: columns)
            let result = try body()
            located = outer
            return result
        }
    }

    /// The indexes of the live graph (schema/migrations) and the backup fields whose values they hold.
    /// `ontologies_pkey` holds both the file's ontology names and its sources' documents: the apply
    /// step that failed says which (`source`). `IndexMapTests` requires every index of `kg` with a
    /// text column to be here, so a new migration cannot leave one unnamed.
    static let liveIndexes: [String: Located] = [
        "ontologies_pkey": Located(section: "ontologies", columns: ["name"]),
        "vocabulary_pkey": Located(section: "vocabulary", columns: ["relationship_type"]),
        "concepts_pkey": Located(section: "concepts", columns: ["concept_id"]),
        "sources_pkey": Located(section: "sources", columns: ["source_id"]),
        "sources_document_idx": Located(section: "sources", columns: ["document"]),
        "instances_pkey": Located(section: "instances", columns: ["instance_id"]),
        "instances_source_idx": Located(section: "instances", columns: ["source_id"]),
        "evidence_pkey": Located(section: "instances", columns: ["instance_id", "concept_id"]),
        "evidence_concept_idx": Located(section: "instances", columns: ["concept_id"]),
        "relationships_from_idx": Located(section: "relationships", columns: ["from"]),
        "relationships_to_idx": Located(section: "relationships", columns: ["to"]),
    ]

    /// Live indexes that more than one backup field feeds: `ontologies_pkey` (ontology names, and
    /// sources' documents that name no listed ontology), `vocabulary_pkey` (vocabulary types, and
    /// relationship types the vocabulary lacks, added by the restore). The statement running
    /// (``Hint``) says which.
    static let sharedIndexes: Set<String> = ["ontologies_pkey", "vocabulary_pkey"]

    /// The section and field(s) an index (live or staging) holds.
    static func indexedField(_ name: String, source: Located?) -> Located? {
        if sharedIndexes.contains(name), let source { return source }
        if let live = liveIndexes[name] { return live }
        for section in StagingRecordEncoder.columns.keys.sorted(by: { $0.count > $1.count }) {
            let prefix = "stage_\(section)_"
            guard name.hasPrefix(prefix) else { continue }
            let column = name.dropFirst(prefix.count).replacingOccurrences(of: "_idx", with: "")
            return Located(section: section, columns: [column])
        }
        return nil
    }

    /// `… for index "stage_instances_instance_id_idx"` → `stage_instances_instance_id_idx`, for
    /// errors without PostgreSQL's constraint diagnostic.
    static func quotedIndexName(_ message: String) -> String? {
        guard let start = message.range(of: "index \"") else { return nil }
        return String(message[start.upperBound...].prefix { $0 != "\"" })
    }

    /// "COPY stage_vocabulary, line 10, column added_at: …" → "vocabulary[9], field added_at".
    /// Without a column in the context (an index refused the row), `field` names it when it is
    /// a field of the section being copied.
    static func copyPlace(_ context: String, field: Located? = nil) -> String? {
        guard let copy = context.range(of: "COPY ") else { return nil }
        let rest = context[copy.upperBound...]
        let parts = rest.split(separator: ",", maxSplits: 2).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard parts.count >= 2, parts[1].hasPrefix("line "),
            let line = Int(parts[1].dropFirst("line ".count).prefix { $0.isNumber })
        else { return nil }
        let section = sectionName(parts[0])
        var place = "\(section)[\(line - 1)]"
        if parts.count == 3, parts[2].hasPrefix("column ") {
            let column = parts[2].dropFirst("column ".count).prefix { $0 != ":" }
            place += ", field \(column)"
        } else if let field, field.section == section {
            place += ", \(field.fields)"
        }
        return place
    }

    private static func sectionName(_ table: String) -> String {
        let bare = table.split(separator: ".").last.map(String.init) ?? table
        return bare.hasPrefix("stage_") ? String(bare.dropFirst("stage_".count)) : bare
    }
}
