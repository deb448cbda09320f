import Foundation
import KGDatabase
import KGFormat

/// A backup written straight to a file, without a job, a broker or a gateway:
/// for tools (fixture files written at an older schema version) and tests.
/// The same code path as a worker's backup job.
public enum BackupExport {
    struct Silent: StatusSink {
        func publish(jobID: String, event: String, body: [UInt8]) {}
    }

    @discardableResult
    public static func write(
        db: PGConnection, to path: String, type: BackupType = .full, ontology: String? = nil,
        gzip: Bool = false
    ) throws -> BackupJobResult {
        let params = BackupJobParams(
            backupType: type, ontologyName: ontology, compression: gzip ? "gzip" : "none",
            fileName: (path as NSString).lastPathComponent, tempFile: path)
        let context = JobContext(
            jobID: UUID().uuidString.lowercased(), jobType: .backup, control: nil, events: Silent(),
            logger: .init(label: "kg-export"), progressInterval: 1, heartbeatInterval: 1)
        return try BackupJob(params: params, context: context).run(data: db)
    }
}
