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
    static func translate(_ error: Error) -> Error {
        guard let pg = error as? PGError, let state = pg.sqlState, state.hasPrefix("22") || state == "54000" else { return error }
        let lines = pg.message.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        let problem = lines.first ?? pg.message
        var place = "a value in it"
        if let context = lines.first(where: { $0.contains("COPY ") }), let copy = copyPlace(context) {
            place = copy
        } else if let index = indexPlace(problem) {
            place = index
        }
        let tooLarge = state == "54000" ? " (a value this long cannot be indexed; shorten it)" : ""
        return JobFailure("""
            the backup cannot be restored: \(place): \(problem)\(tooLarge). Nothing was changed; \
            correct that record or make a new backup with `kg admin backup`
            """)
    }

    /// "COPY stage_vocabulary, line 10, column added_at: …" → "vocabulary[9], field added_at".
    static func copyPlace(_ context: String) -> String? {
        guard let copy = context.range(of: "COPY ") else { return nil }
        let rest = context[copy.upperBound...]
        let parts = rest.split(separator: ",", maxSplits: 2).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count >= 2, parts[1].hasPrefix("line "),
              let line = Int(parts[1].dropFirst("line ".count).prefix { $0.isNumber }) else { return nil }
        let section = sectionName(parts[0])
        var place = "\(section)[\(line - 1)]"
        if parts.count == 3, parts[2].hasPrefix("column ") {
            let column = parts[2].dropFirst("column ".count).prefix { $0 != ":" }
            place += ", field \(column)"
        }
        return place
    }

    /// `index "stage_instances_instance_id_idx"` → "an instances record's instance_id".
    static func indexPlace(_ message: String) -> String? {
        guard let start = message.range(of: "index \"") else { return nil }
        let name = message[start.upperBound...].prefix { $0 != "\"" }
        for section in StagingRecordEncoder.columns.keys.sorted(by: { $0.count > $1.count }) {
            let prefix = "stage_\(section)_"
            guard name.hasPrefix(prefix) else { continue }
            let column = name.dropFirst(prefix.count).replacingOccurrences(of: "_idx", with: "")
            return "a record of \(section), field \(column)"
        }
        return nil
    }

    private static func sectionName(_ table: String) -> String {
        let bare = table.split(separator: ".").last.map(String.init) ?? table
        return bare.hasPrefix("stage_") ? String(bare.dropFirst("stage_".count)) : bare
    }
}
