import Foundation
import KGDatabase
import KGFormat

/// The `loading` stage: the records stream into temporary staging tables with
/// COPY (a replace writes concepts straight to the emptied live table), checked on
/// the way unless the checking stage took a full pass.
extension RestoreJob {
    /// Creates the staging tables (and, for a replace, snapshots and empties the live
    /// graph), loads the file, confirms its plan and indexes staging.
    /// `hint` names the field an index holds while a statement may hit it (``RestoreErrorMessage/Hint``).
    func loadStage(_ db: PGConnection, _ file: CheckedFile, databaseSchemaVersion: Int, hint: RestoreErrorMessage.Hint) throws -> Loaded {
        try db.execute(RestoreSQL.createStaging)
        if !merge { try db.execute(RestoreSQL.snapshotAndEmptyLive) }
        let expected = params.statistics.values.reduce(0, +)
        // A replace copies concepts straight into kg.concepts, whose key indexes their ids.
        let (sections, onTheWay, directConcepts) = try hint.during("concepts", ["concept_id"]) {
            try load(
                db, totalRecords: expected, plan: file.plan, check: file.integrity == nil,
                conceptsDirect: !merge, hint: hint)
        }
        if let onTheWay { try Self.requireValid(onTheWay) }
        guard let checked = onTheWay ?? file.integrity else {
            throw JobFailure(.unexpected, "the backup was loaded without an integrity check")
        }
        try Self.confirm(file.plan, by: checked, databaseSchemaVersion: databaseSchemaVersion)
        let total = checked.counts.values.reduce(0, +)
        for index in RestoreSQL.indexStaging {
            try hint.during(index.section, [index.column]) { try db.execute(index.sql) }
        }
        try db.execute(RestoreSQL.analyzeStaging)
        try report(.loading, done: total, total: total, message: "checking references inside the database", force: true)
        return Loaded(sections: sections, counts: checked.counts, directConcepts: directConcepts, warnings: checked.warnings.map(\.message))
    }

    /// Streams the records into the staging tables, one COPY per section; returns the sections seen.
    func load(
        _ db: PGConnection, totalRecords: Int, plan: RestorePlan, check: Bool,
        conceptsDirect: Bool, hint: RestoreErrorMessage.Hint
    ) throws -> (Set<String>, IntegrityReport?, Int) {
        var directRows = 0
        // (id, created_at text) rows of the concepts loaded in binary: PostgreSQL parses the timestamps
        // afterwards. Kept aside in a temp file past 1 MiB (or the id checks' smaller budget), not per concept in memory.
        let conceptCreatedAt = RowSpool(
            memoryBytes: min(1 << 20, settings.idCheckMemoryBytes),
            directory: settings.tempDirectory ?? IntegrityChecker.defaultTempDirectory)
        defer { conceptCreatedAt.close() }
        var createdAtRow: [UInt8] = []
        let checker = check ? makeChecker() : nil
        let converting = !plan.converters.isEmpty
        let note = converting ? " (\(plan))" : ""
        var seen: Set<String> = []
        var writer: CopyInWriter?
        var section: String?
        var processed = 0
        var row: [UInt8] = []
        row.reserveCapacity(64 * 1024)
        var inserts: [LargeValueRow.Insert] = []
        // Long strings wait in a nameless temp file next to the upload while their record is loaded.
        let spillDirectory = (params.tempFile as NSString).deletingLastPathComponent
        let loadEvent: BackupPipeline.Observer = { event in
            switch event {
            case .sectionStart(let name) where StagingRecordEncoder.columns[name] != nil:
                seen.insert(name)
                section = name
                writer = try db.copyIn(conceptsDirect && name == "concepts" ? RestoreSQL.copyConceptsDirect : RestoreSQL.copy(name))
                if conceptsDirect && name == "concepts" { try writer!.write(ConceptBinaryEncoder.header) }
            case .record(let name, let index, let value) where name == section:
                row.removeAll(keepingCapacity: true)
                inserts.removeAll(keepingCapacity: true)
                let record = converting ? plan.convert(name, value) : value
                reporter.willLoad(section: name, record: record)
                if conceptsDirect && name == "concepts" {
                    let (id, createdAt) = try ConceptBinaryEncoder.append(index: index, record: record, to: &row, inserts: &inserts)
                    if let createdAt {
                        createdAtRow.removeAll(keepingCapacity: true)
                        CopyText.appendField(id, to: &createdAtRow)
                        createdAtRow.append(0x09)
                        CopyText.appendField(createdAt, to: &createdAtRow)
                        createdAtRow.append(0x0A)
                        try conceptCreatedAt.append(createdAtRow)
                    }
                    directRows += 1
                } else {
                    try StagingRecordEncoder.append(
                        section: name, index: index, record: record, ordinal: processed, to: &row,
                        inserts: &inserts)
                }
                try LargeValueRow.write(row, inserts, to: writer!)
                processed += 1
                try report(.loading, done: processed, total: totalRecords, message: "loading \(name)\(note)")
            case .sectionEnd(let name, _) where name == section:
                if conceptsDirect && name == "concepts" { try writer?.write(ConceptBinaryEncoder.trailer) }
                try writer?.finish()
                writer = nil
                section = nil
            default:
                break
            }
        }
        let pipeline = BackupPipeline(spillDirectory: spillDirectory, observers: (checker.map { [$0.observe] } ?? []) + [loadEvent])
        do {
            try readUpload(through: pipeline)
            if !conceptCreatedAt.isEmpty {
                // PostgreSQL parses the texts here, not in a COPY: a refusal names no line.
                try hint.during("concepts", ["created_at"]) { try applyCreatedAt(db, conceptCreatedAt) }
            }
        } catch {
            writer?.abort("restore aborted: \(error)")
            if let checker, error is BackupReadError || error is CompressionError {
                // A broken file: report it like the checker does, with its findings.
                checker.observeFailure(error)
                return (seen, checker.makeReport(), directRows)
            }
            if let error = error as? StagingRecordEncoder.FieldError { throw JobFailure(.badInput, "the backup is invalid: \(error)") }
            if let error = error as? PGError, error.sqlState == "23505" {
                throw JobFailure(.badInput, "the backup cannot be restored: concept ids appear more than once (\(error.message))")
            }
            throw error
        }
        return (seen, checker?.makeReport(), directRows)
    }

    /// Sets `created_at` of the concepts loaded in binary, from the texts the file gave.
    func applyCreatedAt(_ db: PGConnection, _ rows: RowSpool) throws {
        try db.execute(RestoreSQL.createConceptCreatedAt)
        let writer = try db.copyIn(RestoreSQL.copyConceptCreatedAt)
        do {
            try rows.forEachChunk { try writer.write($0) }
        } catch {
            writer.abort("restore aborted: \(error)")
            throw error
        }
        try writer.finish()
        try db.query(RestoreSQL.applyConceptCreatedAt)
    }
}
