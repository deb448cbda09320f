import Foundation
import KGFormat

/// The `checking` stage: the file's integrity again (the gateway checked it too;
/// the worker never trusts a file it did not check itself). Needs no database.
extension RestoreJob {
    /// Checks the file. When its metadata comes before `data` (files written by kg
    /// and by the platform), the schema plan is known from a short peek and the full
    /// integrity check runs during loading, on the same pass; any finding rolls the
    /// load back. Otherwise (data first) a full check pass comes first, to learn the plan.
    func checkFile(databaseSchemaVersion: Int) throws -> CheckedFile {
        let fileBytes = Int((try? FileManager.default.attributesOfItem(atPath: params.tempFile)[.size] as? NSNumber)??.intValue ?? 0)
        guard FileManager.default.fileExists(atPath: params.tempFile) else {
            throw JobFailure(.storage, "the uploaded file is gone from temp storage (\(params.tempFile)); upload it again")
        }
        try report(.checking, done: 0, total: fileBytes, message: "checking the backup's integrity", force: true)
        var integrity: IntegrityReport?
        let plan: RestorePlan
        if let header = try peekHeader() {
            plan = RestorePlan.make(
                backupVersion: header.schemaVersion, fromThisSystem: header.fromThisSystem,
                databaseVersion: databaseSchemaVersion)
        } else {
            let full = try check(fileBytes: fileBytes)
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

    /// Streams the file through the integrity checker.
    func check(fileBytes: Int) throws -> IntegrityReport {
        let checker = makeChecker()
        try readFile { chunk, offset in
            checker.feed(chunk)
            try report(.checking, done: offset, total: fileBytes, message: "checking the backup's integrity")
        }
        return checker.finish()
    }

    /// Reads the temp file in 1 MiB chunks.
    func readFile(_ body: (UnsafeRawBufferPointer, Int) throws -> Void) throws {
        let fd = open(params.tempFile, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw JobFailure(.storage, "cannot open the uploaded file: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw JobFailure(.storage, "cannot read the uploaded file: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return }
            offset += n
            try buffer.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[0..<n]), offset) }
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

    /// The metadata before `data`, read from the start of the file only; nil when
    /// `data` comes first (or the file ends first): then a full check pass is needed.
    func peekHeader() throws -> (schemaVersion: Int?, fromThisSystem: Bool)? {
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
}
