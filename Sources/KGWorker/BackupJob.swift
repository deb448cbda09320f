import Foundation
import KGDatabase
import KGFormat

/// Exports the graph into a backup file in temp storage, from one consistent
/// snapshot (REPEATABLE READ, READ ONLY), streaming each section with COPY.
///
/// Layout: metadata first (type, schema version, producer, statistics), `data`
/// last, one record per line, so that a streaming reader knows the counts
/// before the first record.
struct BackupJob {
    let params: BackupJobParams
    let context: JobContext
    private let plan = JobType.backup.plan

    func run(data db: PGConnection) throws -> BackupJobResult {
        let type = params.backupType
        if type == .ontology {
            guard let name = params.ontologyName, !name.isEmpty else {
                throw JobFailure(.badInput, "an ontology backup needs an ontology name")
            }
            try db.query("SELECT set_config('kg.backup_ontology', $1, false)", [name])
        }
        return try db.transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") {
            // Each section comes in its key's order. For concepts (rows of a few KB, mostly
            // the embedding) the planner preferred a scan and a sort, so PostgreSQL built
            // every record's JSON before the first reached the worker: 5 s of the bench's
            // 7 s export of 531 MB, while the gateway and the CLI waited. The key's index
            // streams from the first row (docs/DESIGN.md "The export streams from its first row").
            _ = try db.query("SET LOCAL enable_sort = off")
            return try export(db, type: type)
        }
    }

    private func export(_ db: PGConnection, type: BackupType) throws -> BackupJobResult {
        try context.report(.counting, of: plan, done: 0, total: 0, message: "counting records", force: true)
        let schemaVersion = try db.query("SELECT coalesce(max(version), 0) AS v FROM kg_api.schema_migrations").first("v", as: Int.self) ?? 0
        let countRow = try db.query(BackupQueries.counts(type))
        var statistics: [String: Int] = [:]
        for section in BackupQueries.sections {
            statistics[section] = countRow.first(section, as: Int.self) ?? 0
        }
        let total = statistics.values.reduce(0, +)

        let sink = try FileSink(path: params.tempFile, compression: BackupCompression(rawValue: params.compression) ?? .none)
        var header: [UInt8] = []
        header.append(contentsOf: "{\"version\":\"1.0\",\"type\":\"\(type.fileType)\",\"timestamp\":".utf8)
        JSONEscaping.appendQuoted(Self.isoTimestamp(Date()), to: &header)
        header.append(contentsOf: ",\"ontology\":".utf8)
        if type == .ontology, let name = params.ontologyName {
            JSONEscaping.appendQuoted(name, to: &header)
        } else {
            header.append(contentsOf: "null".utf8)
        }
        header.append(contentsOf: ",\"schema_version\":\(schemaVersion)".utf8)
        header.append(contentsOf: ",\"producer\":{\"name\":\"\(Producer.name)\",\"version\":\"\(Producer.version)\"}".utf8)
        header.append(contentsOf: ",\"statistics\":{".utf8)
        header.append(
            contentsOf: ["concepts", "sources", "instances", "relationships", "vocabulary", "ontologies"]
                .map { "\"\($0)\":\(statistics[$0] ?? 0)" }.joined(separator: ",").utf8)
        header.append(contentsOf: "},\"data\":{".utf8)
        try header.withUnsafeBytes { try sink.write($0) }

        // Long text values come as markers and are fetched in pieces (see LongValueExport).
        let longValues = try LongValueExport(db: db)
        defer { longValues.close() }
        var processed = 0
        let comma = Array(",\n".utf8)
        for (index, section) in BackupQueries.sections.enumerated() {
            try sink.write("\(index == 0 ? "" : ",")\n\"\(section)\":[\n")
            var first = true
            var rows = 0
            // A full backup's concepts in pieces on two connections at once (SplitExport), past a size.
            let count = statistics[section] ?? 0
            var keys: [String] = []
            if section == "concepts", type != .ontology, context.exportSplitMinConcepts > 0, count >= context.exportSplitMinConcepts {
                keys = try SplitExport.keys(db, concepts: count)
            }
            var second: SplitExport?
            if !keys.isEmpty {
                let split = SplitExport(
                    url: db.url, snapshot: longValues.snapshot, keys: keys, schemaVersion: schemaVersion,
                    directory: context.tempDirectory ?? NSTemporaryDirectory())
                split.start()
                second = split
            }
            defer { second?.abandon() }
            var firstConnectionRows = 0
            for piece in 0...keys.count {
                if let second, piece % 2 == 1 {
                    let pieceRows = try second.append(piece: piece, to: sink, after: !first)
                    first = first && pieceRows == 0
                    rows += pieceRows
                    processed += pieceRows
                    try context.report(.exporting, of: plan, done: processed, total: total, message: "exporting \(section)")
                    continue
                }
                let bounds: BackupQueries.Piece? = try keys.isEmpty ? nil : SplitExport.bound(db, piece: piece, keys: keys)
                var reader = CopyBinaryFieldReader()
                try db.copyOut(BackupQueries.copy(section: section, type: type, schemaVersion: schemaVersion, longValues: true, piece: bounds)) {
                    chunk in
                    try reader.feed(chunk) { field in
                        guard let field else { throw JobFailure(.unexpected, "unexpected NULL record in \(section)") }
                        if !first { try comma.withUnsafeBytes { try sink.write($0) } }
                        first = false
                        try longValues.write(field, section: section, to: sink)
                        processed += 1
                        try context.report(
                            .exporting, of: plan, done: processed, total: total,
                            message: "exporting \(section)")
                    }
                }
                rows += reader.rows
                firstConnectionRows += reader.rows
            }
            if second != nil {
                context.logger.info(
                    "concepts exported on two connections",
                    metadata: [
                        "pieces": "\(keys.count + 1)", "first_connection": "\(firstConnectionRows)",
                        "second_connection": "\(rows - firstConnectionRows)",
                    ])
            }
            guard rows == count else {
                throw JobFailure(.unexpected, "\(section): exported \(rows) records but counted \(count) in the same snapshot")
            }
            try sink.write("\n]")
            try sink.flush()
            try context.checkCancelled()
        }
        try sink.write("\n}}\n")
        try sink.finish()
        if context.finishDelay > 0 { Thread.sleep(forTimeInterval: context.finishDelay) }
        try context.report(.exported, of: plan, done: processed, total: total, message: "backup written", force: true)
        return BackupJobResult(bytes: sink.bytesWritten, fileName: params.fileName, statistics: statistics, schemaVersion: schemaVersion)
    }

    static func isoTimestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
