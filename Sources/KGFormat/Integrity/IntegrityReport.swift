/// The result of checking a backup: whether it may be restored, everything
/// found, and what the file says about itself.
///
/// ```swift
/// let report = BackupFileChecker.check(path: "full_backup_20240501_100000.json.gz")
/// print(report.renderText())                    // for people
/// let json = report.jsonBytes()                 // for `kg admin verify --json`
/// if !report.valid { exit(1) }
/// ```
public struct IntegrityReport: Sendable, Codable, Equatable {
    /// Who wrote the file; absent in files from the platform.
    public struct Producer: Sendable, Codable, Equatable {
        /// `producer.name`: "kg" for files written by this system.
        public let name: String?
        /// `producer.version`: the version of the program that wrote the file.
        public let version: String?

        public init(name: String?, version: String?) {
            self.name = name
            self.version = version
        }
    }

    /// The records of an ontology backup that name its external dependencies:
    /// what a restore with `--external-deps prune` drops (or `defer` keeps
    /// aside) when the database holds none of those concepts. In merge mode a
    /// record whose concept the database holds is connected instead, so these
    /// are upper bounds there; a replace empties the graph first, so they are exact.
    public struct ExternalReferences: Sendable, Codable, Equatable {
        /// Instance records (one per quote and concept) naming a missing concept.
        public let instances: Int
        /// Relationships with at least one missing end, each counted once (at
        /// least this many when `relationshipsAtMost` is set).
        public let relationships: Int
        /// Set only when the count is a range: a file listing more than
        /// 524,288 distinct pairs of not-yet-defined concepts in its
        /// relationships before their concepts (the checker's memory is capped).
        public let relationshipsAtMost: Int?

        public init(instances: Int, relationships: Int, relationshipsAtMost: Int? = nil) {
            self.instances = instances
            self.relationships = relationships
            self.relationshipsAtMost = relationshipsAtMost
        }

        enum CodingKeys: String, CodingKey {
            case instances, relationships
            case relationshipsAtMost = "relationships_at_most"
        }

        /// No external references (every full backup, and ontology backups without external dependencies).
        public static let none = ExternalReferences(instances: 0, relationships: 0)
    }

    /// `true` when there are no errors; warnings never make a file invalid.
    public let valid: Bool
    /// Findings that make the file invalid.
    public let errors: [Finding]
    /// Findings worth a look that do not stop a restore.
    public let warnings: [Finding]
    /// Notes, such as what external dependencies mean.
    public let info: [Finding]
    /// Distinct concept ids an ontology backup names but does not hold.
    public let externalDeps: Int
    /// The records naming those concepts (zero when `externalDeps` is zero).
    public let externalReferences: ExternalReferences
    /// The file's own `statistics`, unchanged; `nil` when it has none.
    public let statistics: JSONValue?
    /// Records per `data` section actually present (sections that were arrays).
    public let counts: [String: Int]
    /// `type`: "full_backup" or "ontology_backup" (or whatever the file says).
    public let backupType: String?
    /// `ontology`: the ontology an ontology backup holds.
    public let ontology: String?
    /// `version` of the file format, e.g. "1.0".
    public let version: String?
    /// `schema_version`; `nil` in files from before versioning.
    public let schemaVersion: Int?
    /// `producer`; `nil` in files from the platform.
    public let producer: Producer?
    /// `timestamp`, as the file wrote it.
    public let timestamp: String?

    /// A report from its parts; `valid` follows from `errors`.
    public init(
        errors: [Finding], warnings: [Finding], info: [Finding], externalDeps: Int,
        externalReferences: ExternalReferences = .none, statistics: JSONValue?, counts: [String: Int], backupType: String?, ontology: String?,
        version: String?, schemaVersion: Int?, producer: Producer?, timestamp: String?
    ) {
        self.valid = errors.isEmpty
        self.errors = errors
        self.warnings = warnings
        self.info = info
        self.externalDeps = externalDeps
        self.externalReferences = externalReferences
        self.statistics = statistics
        self.counts = counts
        self.backupType = backupType
        self.ontology = ontology
        self.version = version
        self.schemaVersion = schemaVersion
        self.producer = producer
        self.timestamp = timestamp
    }

    enum CodingKeys: String, CodingKey {
        case valid, errors, warnings, info, statistics, counts, ontology, version, producer, timestamp
        case externalDeps = "external_deps"
        case externalReferences = "external_references"
        case backupType = "backup_type"
        case schemaVersion = "schema_version"
    }

    /// The same report with other external reference counts.
    func replacing(externalReferences: ExternalReferences) -> IntegrityReport {
        IntegrityReport(
            errors: errors, warnings: warnings, info: info, externalDeps: externalDeps,
            externalReferences: externalReferences, statistics: statistics, counts: counts, backupType: backupType,
            ontology: ontology, version: version, schemaVersion: schemaVersion, producer: producer, timestamp: timestamp)
    }

    /// All findings, errors first.
    public var findings: [Finding] { errors + warnings + info }

    /// Whether the file was written by this system (it carries `producer.name == "kg"`),
    /// so that its `schema_version` counts in our migration history.
    public var isFromThisSystem: Bool { producer?.name == "kg" }
}
