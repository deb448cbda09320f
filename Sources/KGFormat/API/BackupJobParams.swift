/// A backup job's `params`, written by the gateway and read by the worker.
public struct BackupJobParams: Codable, Sendable, Equatable {
    public var backupType: BackupType
    public var ontologyName: String?
    /// `none`, `gzip` or `zstd` (``BackupCompression``).
    public var compression: String
    /// The name the client saves the file under (Content-Disposition).
    public var fileName: String
    /// The file in temp storage the worker writes and the gateway streams.
    public var tempFile: String

    public init(backupType: BackupType, ontologyName: String?, compression: String, fileName: String, tempFile: String) {
        self.backupType = backupType
        self.ontologyName = ontologyName
        self.compression = compression
        self.fileName = fileName
        self.tempFile = tempFile
    }

    enum CodingKeys: String, CodingKey {
        case backupType = "backup_type", ontologyName = "ontology_name", compression
        case fileName = "file_name", tempFile = "temp_file"
    }
}

/// What a finished backup job reports in its `result`.
public struct BackupJobResult: Codable, Sendable, Equatable {
    /// Size of the file as stored (compressed when gzip).
    public var bytes: Int
    public var fileName: String
    public var statistics: [String: Int]
    public var schemaVersion: Int

    public init(bytes: Int, fileName: String, statistics: [String: Int], schemaVersion: Int) {
        self.bytes = bytes
        self.fileName = fileName
        self.statistics = statistics
        self.schemaVersion = schemaVersion
    }

    enum CodingKeys: String, CodingKey {
        case bytes, fileName = "file_name", statistics, schemaVersion = "schema_version"
    }
}
