import Foundation
import KGDatabase
import KGFormat

/// Restores an uploaded backup in one PostgreSQL transaction: fully or not at all.
///
/// 1. checking — the file's integrity again (the gateway checked it too; the
///    worker never trusts a file it did not check itself): a peek at the header
///    for the schema plan, the full check then rides along with loading.
/// 2. creating_checkpoint — a full backup of the graph before anything changes,
///    made by ``RiskyOperation`` (`makeCheckpoint`) when the restore asks for one
///    (merges by default); otherwise reported as not needed, so that every
///    restore shows the same stages.
/// 3. loading — the records stream into temporary staging tables with COPY;
///    then checks inside the database (duplicate ids, references, types).
/// 4. restoring_* — apply to the live graph (replace or merge).
/// 5. verifying — integrity of the live graph inside the same transaction.
/// 6. committing — the transaction is left open for the caller (``RiskyOperation``),
///    which checks the graph, marks the job completed in it and commits (a dry run
///    rolls back here).
/// A failure or cancellation anywhere before the commit rolls everything back.
struct RestoreJob {
    let params: RestoreJobParams
    let context: JobContext
    /// Writes the checkpoint (``RiskyOperation``); nil when this restore makes none.
    var makeCheckpoint: (() throws -> Void)? = nil
    /// Runs inside the transaction just before COMMIT (a restore of a checkpoint
    /// puts back the rows its file cannot carry).
    var beforeCommit: ((PGConnection) throws -> Void)? = nil
    /// Connect pending links (`--external-deps defer`) whose concepts now exist; not when restoring a checkpoint.
    var connectsPending = true

    /// Percent ranges per stage, so that `percent` rises steadily and never goes down.
    static let ranges: [RestoreStage: (Double, Double)] = [
        .checking: (0, 10), .creatingCheckpoint: (10, 11), .loading: (11, 50),
        .restoringVocabulary: (50, 52), .restoringConcepts: (52, 68), .restoringSources: (68, 74),
        .restoringInstances: (74, 82), .restoringRelationships: (82, 90), .verifying: (90, 95), .committing: (95, 100),
    ]

    func report(_ stage: RestoreStage, done: Int, total: Int, message: String? = nil, force: Bool = false) throws {
        let (low, high) = Self.ranges[stage] ?? (0, 100)
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        try context.progress(stage: stage.rawValue, percent: low + (high - low) * fraction, processed: done, total: total,
                             message: message, force: force)
    }

    func run(data db: PGConnection, databaseSchemaVersion: Int) throws -> RestoreJobResult {
        let started = Date()
        let fileBytes = Int((try? FileManager.default.attributesOfItem(atPath: params.tempFile)[.size] as? NSNumber)??.intValue ?? 0)
        guard FileManager.default.fileExists(atPath: params.tempFile) else {
            throw JobFailure("the uploaded file is gone from temp storage (\(params.tempFile)); upload it again")
        }

        // 1. Check the file. When its metadata comes before `data` (files written by
        //    kg and by the platform), the schema plan is known from a short peek and
        //    the full integrity check runs during loading, on the same pass; any
        //    finding rolls the load back. Otherwise (data first) a full check pass
        //    comes first, to learn the plan.
        try report(.checking, done: 0, total: fileBytes, message: "checking the backup's integrity", force: true)
        var integrity: IntegrityReport?
        let plan: RestorePlan
        if let header = try peekHeader() {
            plan = RestorePlan.make(backupVersion: header.schemaVersion, fromThisSystem: header.fromThisSystem,
                                    databaseVersion: databaseSchemaVersion)
        } else {
            let full = try check(fileBytes: fileBytes)
            try Self.requireValid(full)
            integrity = full
            plan = RestorePlan.make(backupVersion: full.schemaVersion, fromThisSystem: full.isFromThisSystem,
                                    databaseVersion: databaseSchemaVersion)
        }
        if let refusal = plan.refusal { throw JobFailure(refusal) }
        var warnings: [String] = []
        try report(.checking, done: fileBytes, total: fileBytes, force: true)

        // 2. The checkpoint, when this restore makes one (see the type's documentation).
        if let makeCheckpoint {
            try report(.creatingCheckpoint, done: 0, total: 1, message: "writing a full backup of the graph", force: true)
            try makeCheckpoint()
            try report(.creatingCheckpoint, done: 1, total: 1, force: true)
        } else {
            let why = params.dryRun ? "a dry run changes nothing"
                : params.checkpoint == false ? "skipped (--no-checkpoint)" : "not needed: the restore runs in one transaction"
            try report(.creatingCheckpoint, done: 1, total: 1, message: why, force: true)
        }

        let merge = params.mode == .merge
        var restored: [String: Int] = [:], removed: [String: Int] = [:], updated: [String: Int] = [:], pruned: [String: Int] = [:]
        var deferred: [String: Int] = [:], connected: [String: Int] = [:]
        var lockedFrom: String?, lockedUntil: String?
        // Staging lives in temporary tables, which use session-local buffers (8 MB by
        // default): a larger pool keeps more of the staged rows in memory (PostgreSQL's, not ours).
        // (Not possible once the session has used a temporary table: then the default stays.)
        _ = try? db.execute("SET temp_buffers = '256MB'")
        try db.execute("BEGIN")
        var refusedFrom: RestoreErrorMessage.Located?  // set while a statement's index holds a field ambiguously
        do {
            // One risky operation at a time; the status says what we wait for.
            if try db.query("SELECT pg_try_advisory_xact_lock($1::bigint) AS ok", [RestoreSQL.graphWriteLockKey]).first("ok") != "t" {
                try report(.loading, done: 0, total: 1, message: "waiting for another restore to finish", force: true)
                try db.query("SELECT pg_advisory_xact_lock($1::bigint)", [RestoreSQL.graphWriteLockKey])
            }
            lockedFrom = try db.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS t").first("t")
            try db.execute(RestoreSQL.createStaging)
            if !merge { try db.execute(RestoreSQL.snapshotAndEmptyLive) }

            // 3. Load into staging (checking on the way unless already checked), then check inside the database.
            let expected = params.statistics.values.reduce(0, +)
            let (sectionsSeen, onTheWay, directConcepts) = try load(db, totalRecords: expected, plan: plan, check: integrity == nil,
                                                                    conceptsDirect: !merge)
            if let onTheWay {
                try Self.requireValid(onTheWay)
                integrity = onTheWay
            }
            let checked = integrity!
            // The whole file agrees with what its header said.
            let confirmed = RestorePlan.make(backupVersion: checked.schemaVersion, fromThisSystem: checked.isFromThisSystem,
                                             databaseVersion: databaseSchemaVersion)
            if let refusal = confirmed.refusal { throw JobFailure(refusal) }
            guard confirmed == plan else {
                throw JobFailure("the backup's schema information comes after its data and contradicts its header (\(confirmed)); rewrite it with the metadata first")
            }
            warnings += checked.warnings.map(\.message)
            let total = checked.counts.values.reduce(0, +)
            try db.execute(RestoreSQL.indexStaging)
            try report(.loading, done: total, total: total, message: "checking references inside the database", force: true)
            try checkStaging(db, merge: merge, pruned: &pruned, deferred: &deferred, warnings: &warnings)
            try context.checkCancelled()

            // 4. Apply.
            let hasVocabulary = sectionsSeen.contains("vocabulary")
            if !merge {
                // The live graph was emptied before loading; the snapshot says what is gone for good.
                let removals = try db.query(RestoreSQL.replaceRemovals(fileHasVocabulary: hasVocabulary))
                for section in ["concepts", "sources", "instances", "relationships", "vocabulary"] {
                    removed[section] = Int(removals.first(section) ?? "0") ?? 0
                }
            }
            try report(.restoringVocabulary, done: 0, total: checked.counts["vocabulary"] ?? 0, force: true)
            if hasVocabulary {
                let statements = RestoreSQL.vocabulary(merge: merge, replaceAll: !merge)
                for statement in statements.dropLast() { try db.query(statement) }
                count(try db.query(RestoreSQL.counted(statements.last!)), "vocabulary", &restored, &updated)
            }
            let added = try db.query(RestoreSQL.addMissingTypes).rows.compactMap { $0[0] }
            if !added.isEmpty {
                warnings.append("added \(added.count) relationship type(s) the backup used without defining: \(added.prefix(5).joined(separator: ", "))")
            }
            try report(.restoringVocabulary, done: 1, total: 1, force: true)

            try report(.restoringConcepts, done: 0, total: checked.counts["concepts"] ?? 0, force: true)
            if merge {
                count(try db.query(RestoreSQL.counted(RestoreSQL.concepts)), "concepts", &restored, &updated)
            } else {
                restored["concepts"] = directConcepts  // already in kg.concepts (COPY during loading)
            }
            try report(.restoringConcepts, done: 1, total: 1, force: true)

            try report(.restoringSources, done: 0, total: checked.counts["sources"] ?? 0, force: true)
            for (index, statement) in RestoreSQL.ontologies.enumerated() {
                refusedFrom = index == 0 ? RestoreErrorMessage.Located(section: "ontologies", columns: ["name"])
                    : RestoreErrorMessage.Located(section: "sources", columns: ["document"])
                try db.query(statement)
            }
            refusedFrom = nil
            count(try db.query(RestoreSQL.counted(RestoreSQL.sources)), "sources", &restored, &updated)
            try report(.restoringSources, done: 1, total: 1, force: true)

            try report(.restoringInstances, done: 0, total: checked.counts["instances"] ?? 0, force: true)
            count(try db.query(RestoreSQL.counted(RestoreSQL.instances)), "instance_rows", &restored, &updated)
            restored["instances"] = try db.query(RestoreSQL.evidence).affectedRows
            restored["instance_rows"] = nil
            updated["instance_rows"] = nil
            try report(.restoringInstances, done: 1, total: 1, force: true)

            try report(.restoringRelationships, done: 0, total: checked.counts["relationships"] ?? 0, force: true)
            restored["relationships"] = try db.query(merge ? RestoreSQL.relationshipsMerge : RestoreSQL.relationshipsInsertAll).affectedRows
            if connectsPending {
                // Links kept aside by earlier restores whose concepts exist now.
                for statement in PendingSQL.connectInstances.dropLast() { try db.query(statement) }
                connected["instances"] = try db.query(PendingSQL.connectInstances.last!, [context.jobID]).affectedRows
                try db.query(PendingSQL.connectRelationships[0])
                connected["relationships"] = try db.query(PendingSQL.connectRelationships[1], [context.jobID]).affectedRows
                if connected.values.reduce(0, +) == 0 { connected = [:] }
            }
            try report(.restoringRelationships, done: 1, total: 1, force: true)
            try context.checkCancelled()

            // 5. Verify the live graph inside the transaction.
            let checks = RestoreSQL.postChecks(replace: !merge, direct: !merge)
            for (index, check) in checks.enumerated() {
                try report(.verifying, done: index, total: checks.count, message: "verifying the restored graph", force: true)
                let offending = try db.query(check.sql).rows.compactMap { $0[0] }
                if !offending.isEmpty {
                    throw JobFailure("the restored graph failed its integrity check: \(check.message) (\(offending.joined(separator: ", ")))")
                }
            }
            try context.checkCancelled()

            // 6. Commit (by the caller, with the job row: ``RiskyOperation``), or roll back a dry run.
            try report(.committing, done: 0, total: 1, message: params.dryRun ? "dry run: rolling back" : "committing", force: true)
            if !params.dryRun, let beforeCommit { try beforeCommit(db) }
            lockedUntil = try db.query("SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS t").first("t")
            if params.dryRun { try db.execute("ROLLBACK") }
        } catch {
            try? context.progress(stage: RestoreStage.rollingBack.rawValue, percent: context.currentPercent, processed: 0, total: 0,
                                  message: "rolling back: nothing was changed", force: true)
            if db.isOK { _ = try? db.execute("ROLLBACK") }
            throw RestoreErrorMessage.translate(error, source: refusedFrom)
        }
        if !plan.converters.isEmpty { warnings.append("converted: \(plan)") }
        if !merge {
            // A replace writes every record of the file, whether a row with its id existed before or not.
            for (section, n) in updated { restored[section, default: 0] += n }
        }
        return RestoreJobResult(mode: params.mode, dryRun: params.dryRun, restored: restored, removed: removed,
                                updated: merge ? updated : [:], pruned: pruned, deferred: deferred.isEmpty ? nil : deferred,
                                connected: connected.isEmpty ? nil : connected, warnings: warnings,
                                seconds: (Date().timeIntervalSince(started) * 100).rounded() / 100,
                                lockedFrom: lockedFrom, lockedUntil: lockedUntil)
    }

    /// Reads the one row of ``RestoreSQL/counted(_:)``: rows inserted and updated.
    private func count(_ result: PGResult, _ section: String, _ restored: inout [String: Int], _ updated: inout [String: Int]) {
        restored[section] = Int(result.first("inserted") ?? "0") ?? 0
        updated[section] = Int(result.first("updated") ?? "0") ?? 0
    }

    /// Streams the file through the integrity checker.
    private func check(fileBytes: Int) throws -> IntegrityReport {
        let checker = makeChecker()
        try readFile { chunk, offset in
            checker.feed(chunk)
            try report(.checking, done: offset, total: fileBytes, message: "checking the backup's integrity")
        }
        return checker.finish()
    }

    /// Reads the temp file in 1 MiB chunks.
    private func readFile(_ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let fd = open(params.tempFile, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JobFailure("cannot open the uploaded file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw JobFailure("cannot read the uploaded file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return }
            offset += n
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n]), offset) }
        }
    }

    /// Streams the records into the staging tables, one COPY per section; returns the sections seen.
    private func load(_ db: PGConnection, totalRecords: Int, plan: RestorePlan, check: Bool,
                      conceptsDirect: Bool) throws -> (Set<String>, IntegrityReport?, Int) {
        var directRows = 0
        // (id, created_at text) rows of the concepts loaded in binary: PostgreSQL parses the timestamps
        // afterwards. Kept aside in a temp file past 1 MiB (or the id checks' smaller budget), not per concept in memory.
        let conceptCreatedAt = RowSpool(memoryBytes: min(1 << 20, context.idCheckMemoryBytes),
                                        directory: context.tempDirectory ?? IntegrityChecker.defaultTempDirectory)
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
        let decoder = ContentDecoder()
        // Long strings wait in a nameless temp file next to the upload while their record is loaded.
        let spillDirectory = (params.tempFile as NSString).deletingLastPathComponent
        let reader = BackupStreamReader(spillDirectory: spillDirectory) { event in
            checker?.observe(event)
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
                if !context.crashMarker.isEmpty, name == "concepts", record["concept_id"]?.stringValue == context.crashMarker {
                    context.logger.critical("test_crash_marker met: crashing on purpose (tests only)")
                    abort()
                }
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
                    try StagingRecordEncoder.append(section: name, index: index, record: record, ordinal: processed, to: &row,
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
        do {
            try readFile { chunk, _ in
                try decoder.decode(chunk) { try reader.feed($0) }
            }
            try decoder.finish { try reader.feed($0) }
            try reader.finish()
            if !conceptCreatedAt.isEmpty { try applyCreatedAt(db, conceptCreatedAt) }
        } catch {
            writer?.abort("restore aborted: \(error)")
            if let checker, error is BackupReadError || error is CompressionError {
                // A broken file: report it like the checker does, with its findings.
                checker.observeFailure(error)
                return (seen, checker.makeReport(), directRows)
            }
            if let error = error as? StagingRecordEncoder.FieldError { throw JobFailure("the backup is invalid: \(error)") }
            if let error = error as? PGError, error.sqlState == "23505" {
                throw JobFailure("the backup cannot be restored: concept ids appear more than once (\(error.message))")
            }
            throw error
        }
        return (seen, checker?.makeReport(), directRows)
    }

    /// Sets `created_at` of the concepts loaded in binary, from the texts the file gave.
    private func applyCreatedAt(_ db: PGConnection, _ rows: RowSpool) throws {
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

    /// The integrity checker of this job: its id checks spill to temp storage past `id_check_memory_bytes`.
    private func makeChecker() -> IntegrityChecker {
        IntegrityChecker(idMemoryBytes: context.idCheckMemoryBytes, tempDirectory: context.tempDirectory)
    }

    /// Throws the findings of an invalid report.
    static func requireValid(_ report: IntegrityReport) throws {
        guard report.valid else {
            let findings = report.errors.prefix(10).map { "[\($0.category.rawValue)] \($0.message)" }.joined(separator: "; ")
            throw JobFailure("the backup is invalid: \(findings)")
        }
    }

    /// The metadata before `data`, read from the start of the file only; nil when
    /// `data` comes first (or the file ends first): then a full check pass is needed.
    private func peekHeader() throws -> (schemaVersion: Int?, fromThisSystem: Bool)? {
        struct Done: Error {}
        var metadata: [String: JSONValue] = [:]
        var sawData = false
        let decoder = ContentDecoder()
        let reader = BackupStreamReader { event in
            switch event {
            case .metadata(let key, let value): metadata[key] = value
            case .dataStart, .dataNotObject:
                sawData = true
                throw Done()
            default: break
            }
        }
        do {
            try readFile { chunk, _ in try decoder.decode(chunk) { try reader.feed($0) } }
        } catch is Done {
        } catch {
            return nil  // a broken file: the full check pass will say how
        }
        guard sawData, metadata["version"] != nil else { return nil }
        // Files written by kg name their producer before `data`; the platform's have none.
        let producer = metadata["producer"]?["name"]?.stringValue
        return (metadata["schema_version"]?.intValue, producer == "kg")
    }

    /// Duplicate ids, references and external dependencies, inside the database.
    private func checkStaging(_ db: PGConnection, merge: Bool, pruned: inout [String: Int], deferred: inout [String: Int],
                              warnings: inout [String]) throws {
        let direct = !merge
        for check in RestoreSQL.stagingChecks {
            let offending = try db.query(check.sql).rows.compactMap { $0[0] }
            if !offending.isEmpty {
                throw JobFailure("the backup cannot be restored: \(check.message) (\(offending.joined(separator: ", ")))")
            }
        }
        let missingSources = try db.query(RestoreSQL.missingSources(merge: merge)).rows.compactMap { $0[0] }
        if !missingSources.isEmpty {
            throw JobFailure("the backup cannot be restored: instances name sources that neither the backup nor the graph holds (\(missingSources.joined(separator: ", ")))")
        }
        let instances = try db.query(RestoreSQL.danglingInstances(merge: merge, direct: direct))
        let danglingInstances = Int(instances.first("n") ?? "0") ?? 0
        let missingConcepts = Int(instances.first("c") ?? "0") ?? 0
        let danglingEdges = Int(try db.query(RestoreSQL.danglingRelationships(merge: merge, direct: direct)).first("n") ?? "0") ?? 0
        guard danglingInstances + danglingEdges > 0 else { return }
        switch params.externalDeps {
        case .fail:
            throw JobFailure("""
                \(danglingInstances) instance links and \(danglingEdges) relationships name concepts that neither the backup \
                nor the graph holds (external dependencies, \(missingConcepts)+ concepts); restore the ontologies that hold them \
                first, or restore with --external-deps prune to leave them out (or defer to connect them when their concepts arrive)
                """)
        case .prune:
            pruned["instances"] = try db.query(RestoreSQL.pruneInstances(merge: merge, direct: direct)).affectedRows
            pruned["relationships"] = try db.query(RestoreSQL.pruneRelationships(merge: merge, direct: direct)).affectedRows
            warnings.append("left out \(pruned["instances"]!) instance links and \(pruned["relationships"]!) relationships that name concepts outside the backup and the graph (--external-deps prune)")
        case .deferred, .stitch:
            deferred["instances"] = try db.query(PendingSQL.deferInstances(merge: merge, direct: direct), [context.jobID]).affectedRows
            deferred["relationships"] = try db.query(PendingSQL.deferRelationships(merge: merge, direct: direct), [context.jobID]).affectedRows
            try db.query(RestoreSQL.pruneInstances(merge: merge, direct: direct))
            try db.query(RestoreSQL.pruneRelationships(merge: merge, direct: direct))
            warnings.append("kept aside \(deferred["instances"]!) instance links and \(deferred["relationships"]!) relationships that name concepts outside the backup and the graph; they are connected when those concepts arrive (--external-deps \(params.externalDeps.rawValue); `kg admin stitch --pending` shows them\(params.externalDeps == .stitch ? "; the backup does not hold the missing concepts, so only ids could match: `kg admin stitch --backup FILE` matches them by label and embedding" : ""))")
        }
    }
}
