import Foundation
import KGFormat

/// The `checking` stage: the file's integrity again (the gateway checked it too;
/// the worker never trusts a file it did not check itself). Needs no database.
extension RestoreJob {
    /// Checks the file in one read (``checkingPass(fileBytes:)``). When its metadata comes
    /// before `data` (files written by kg and by the platform), the schema plan is known
    /// once `data` begins and the read stops there: the full integrity check runs during
    /// loading, on the same pass as the load; any finding rolls the load back. Otherwise
    /// (data first) this read checks the whole file, to learn the plan.
    func checkFile(databaseSchemaVersion: Int) throws -> CheckedFile {
        let fileBytes =
            params.pipelined == true
            ? params.fileBytes  // still arriving: its declared length
            : Int((try? FileManager.default.attributesOfItem(atPath: params.tempFile)[.size] as? NSNumber)??.intValue ?? 0)
        // (A pipelined restore's file may have moved to the job's name meanwhile: its read finds it.)
        guard params.pipelined == true || FileManager.default.fileExists(atPath: params.tempFile) else {
            throw JobFailure(.storage, "the uploaded file is gone from temp storage (\(params.tempFile)); upload it again")
        }
        try report(.checking, done: 0, total: fileBytes, message: "checking the backup's integrity", force: true)
        var integrity: IntegrityReport?
        let plan: RestorePlan
        switch try checkingPass(fileBytes: fileBytes) {
        case .header(let schemaVersion, let fromThisSystem):
            plan = RestorePlan.make(backupVersion: schemaVersion, fromThisSystem: fromThisSystem, databaseVersion: databaseSchemaVersion)
        case .checked(let full):
            try Self.requireValid(full)
            integrity = full
            plan = RestorePlan.make(
                backupVersion: full.schemaVersion, fromThisSystem: full.isFromThisSystem,
                databaseVersion: databaseSchemaVersion)
        }
        if let refusal = plan.refusal { throw JobFailure(.badInput, refusal) }
        try report(.checking, done: fileBytes, total: fileBytes, force: true)
        return CheckedFile(bytes: fileBytes, plan: plan, integrity: integrity)
    }

    /// What the checking stage's read found.
    enum CheckingPass {
        /// The metadata came before `data` (the read stopped there): what it says.
        case header(schemaVersion: Int?, fromThisSystem: Bool)
        /// The whole file, checked (data first, or a file that broke before its `data`).
        case checked(IntegrityReport)
    }

    /// One read of the file, observed by the integrity checker and a header peek; it stops
    /// where `data` begins when a `version` came before it.
    func checkingPass(fileBytes: Int) throws -> CheckingPass {
        let checker = makeChecker()
        let peek = BackupHeaderPeek(stops: false)
        let pipeline = BackupPipeline(observers: [
            checker.observe,
            { event in
                try peek.observe(event)
                if peek.sawData, peek.metadata["version"] != nil { throw BackupPipeline.Stop() }
            },
        ])
        do {
            let ending = try readUpload(through: pipeline, stage: .checking) { _, offset in
                try report(.checking, done: offset, total: fileBytes, message: "checking the backup's integrity")
            }
            if ending == .stopped {
                // Files written by kg name their producer before `data`; the platform's have none.
                let producer = peek.metadata["producer"]?["name"]?.stringValue
                return .header(schemaVersion: peek.metadata["schema_version"]?.intValue, fromThisSystem: producer == "kg")
            }
        } catch let error as BackupReadError {
            checker.observeFailure(error)
        } catch let error as CompressionError {
            checker.observeFailure(error)
        }
        return .checked(checker.makeReport())
    }

    /// Reads the uploaded file through `pipeline` (``BackupPipeline/read(path:chunkSize:onChunk:)``);
    /// a file that cannot be read is a `storage` failure.
    @discardableResult
    func readUpload(
        through pipeline: BackupPipeline, stage: JobStage = .loading, onChunk: ((UnsafeRawBufferPointer, Int) throws -> Void)? = nil
    ) throws -> BackupPipeline.Ending {
        do {
            if let gate = settings.upload {  // set only while the upload may still arrive
                var tail = UploadTail(path: params.tempFile, length: params.fileBytes, gate: gate) { try reporter.checkCancelled() }
                let jobReporter = reporter
                let length = params.fileBytes
                // The first wait is shown at once, later ones as the throttle allows.
                tail.onWait = { read, first in
                    try jobReporter.progress(
                        stage: stage, percent: jobReporter.currentPercent, processed: read, total: length,
                        message: "reading the upload as it arrives: \(read) of \(length) bytes so far", force: first)
                }
                return try pipeline.read(from: { body in try tail.read(body) }, onChunk: onChunk)
            }
            return try pipeline.read(path: params.tempFile, onChunk: onChunk)
        } catch let error as UploadTail.Stalled {
            throw JobFailure(.cancelled, error.description)
        } catch let error as FileReadError {
            throw JobFailure(.storage, "cannot \(error.step == .open ? "open" : "read") the uploaded file: \(error.error.reason)")
        }
    }

    /// A pipelined restore waits here, its file loaded and checked, for the gateway's verdict on the
    /// whole upload; it gives the upload up after the gate's `stallSeconds` without one.
    func awaitAcceptance(total: Int) throws {
        guard let gate = settings.upload else { return }
        let started = Date()
        var said = false
        while true {
            if let file = try gate.accepted() {
                gate.onAccepted(file)
                return
            }
            try reporter.checkCancelled()
            if Date().timeIntervalSince(started) > gate.stallSeconds {
                guard try gate.giveUp() else { continue }  // accepted meanwhile
                throw JobFailure(
                    .cancelled,
                    "the gateway did not accept the upload within \(Int(gate.stallSeconds)) s of its last byte; nothing was changed")
            }
            if !said {
                try report(.loading, done: total, total: total, message: "waiting for the gateway's check of the whole upload", force: true)
                said = true
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// The whole file, checked, agrees with what its header said: the plan it gives is `plan`.
    static func confirm(_ plan: RestorePlan, by checked: IntegrityReport, databaseSchemaVersion: Int) throws {
        let confirmed = RestorePlan.make(
            backupVersion: checked.schemaVersion, fromThisSystem: checked.isFromThisSystem,
            databaseVersion: databaseSchemaVersion)
        if let refusal = confirmed.refusal { throw JobFailure(.badInput, refusal) }
        guard confirmed == plan else {
            throw JobFailure(
                .badInput,
                "the backup's schema information comes after its data and contradicts its header (\(confirmed)); rewrite it with the metadata first")
        }
    }

    /// The integrity checker of this job: its id checks spill to temp storage past `id_check_memory_bytes`.
    func makeChecker() -> IntegrityChecker {
        IntegrityChecker(idMemoryBytes: settings.idCheckMemoryBytes, tempDirectory: settings.tempDirectory)
    }

    /// Throws the findings of an invalid report.
    static func requireValid(_ report: IntegrityReport) throws {
        guard report.valid else {
            let findings = report.errors.prefix(10).map { "[\($0.category.rawValue)] \($0.message)" }.joined(separator: "; ")
            throw JobFailure(.badInput, "the backup is invalid: \(findings)")
        }
    }
}
