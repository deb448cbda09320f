/// How a restore applies a backup.
public enum RestoreMode: String, Codable, Sendable, CaseIterable {
    /// The graph becomes exactly the backup's content (default for a full backup).
    case replace
    /// Insert or update by id; everything else stays (default for an ontology backup).
    case merge

    /// The default for a backup of `type` (`full_backup` / `ontology_backup`).
    public static func defaultFor(backupType: String?) -> RestoreMode {
        backupType == "ontology_backup" ? .merge : .replace
    }
}

/// What becomes of instances and relationships that name concepts neither the
/// backup nor the database holds (an ontology backup's external dependencies).
public enum ExternalDepsStrategy: String, Codable, Sendable, CaseIterable {
    /// Refuse the restore (rolled back) and say how many there are.
    case fail
    /// Drop them, and report how many.
    case prune
    /// Keep them aside (pending) and connect them when the missing concepts
    /// arrive, e.g. with the next ontology's restore.
    case deferred = "defer"
    /// Connect each to an existing concept (same id, else label, else embedding);
    /// what stays unmatched is deferred. A restore knows only the missing concept's
    /// id (the backup does not hold it), so it matches by id and defers the rest;
    /// `kg admin stitch --backup FILE` matches those by label and embedding.
    case stitch

    /// Full backups must be complete (`fail`); an ontology backup's external
    /// dependencies are expected and were reported by the integrity check (`prune`).
    public static func defaultFor(backupType: String?) -> ExternalDepsStrategy {
        backupType == "ontology_backup" ? .prune : .fail
    }
}

/// A restore job's `params`, written by the gateway and read by the worker.
public struct RestoreJobParams: Codable, Sendable, Equatable, RiskyJobOptions {
    public var mode: RestoreMode
    public var dryRun: Bool
    public var externalDeps: ExternalDepsStrategy
    /// The uploaded file in temp storage (`restore_<job>.json`, plain or gzip).
    public var tempFile: String
    public var fileName: String?
    public var fileBytes: Int
    public var backupType: String?
    public var ontology: String?
    public var statistics: [String: Int]
    /// Make a checkpoint first (nil: the default, ``makesCheckpoint``).
    public var checkpoint: Bool?
    /// Keep the checkpoint after a success too.
    public var keepCheckpoint: Bool?
    /// Fail at once instead of waiting when another risky operation runs.
    public var noWait: Bool?
    /// Set when the file is a kept checkpoint restored on purpose (`kg admin checkpoints
    /// restore`): its id. The file stays in temp storage afterwards.
    public var sourceCheckpoint: String?
    /// Set when the job was queued while its upload still arrived (a pipelined restore,
    /// docs/DESIGN.md "Restores that start while the upload arrives"): `tempFile` grows to
    /// `fileBytes`, and nothing changes the graph before the gateway accepts the whole upload.
    public var pipelined: Bool?
    /// Written by the gateway into the job row (with the file's new `temp_file`) once its check
    /// of the whole upload passed; read from the row by the waiting worker.
    public var uploadAccepted: Bool?

    public init(
        mode: RestoreMode, dryRun: Bool, externalDeps: ExternalDepsStrategy, tempFile: String, fileName: String?,
        fileBytes: Int, backupType: String?, ontology: String?, statistics: [String: Int],
        checkpoint: Bool? = nil, keepCheckpoint: Bool? = nil, noWait: Bool? = nil
    ) {
        self.checkpoint = checkpoint
        self.keepCheckpoint = keepCheckpoint
        self.noWait = noWait
        self.mode = mode
        self.dryRun = dryRun
        self.externalDeps = externalDeps
        self.tempFile = tempFile
        self.fileName = fileName
        self.fileBytes = fileBytes
        self.backupType = backupType
        self.ontology = ontology
        self.statistics = statistics
    }

    enum CodingKeys: String, CodingKey {
        case mode, dryRun = "dry_run", externalDeps = "external_deps", tempFile = "temp_file", fileName = "file_name"
        case fileBytes = "file_bytes", backupType = "backup_type", ontology, statistics
        case checkpoint, keepCheckpoint = "keep_checkpoint", noWait = "no_wait", sourceCheckpoint = "source_checkpoint"
        case pipelined, uploadAccepted = "upload_accepted"
    }

    /// Whether this restore makes a checkpoint: as asked, else for a merge (it changes
    /// existing data a user may regret), never for a dry run. A replace makes none by
    /// default: it already sets the graph to a file the user holds.
    public var makesCheckpoint: Bool {
        if dryRun { return false }
        return checkpoint ?? (mode == .merge)
    }
}

/// The stages of a restore, in order (CONTRACT.md). A failed restore ends with
/// `rolling_back` then `failed`.
public enum RestoreStage: String, Codable, Sendable, CaseIterable {
    case checking, creatingCheckpoint = "creating_checkpoint", loading
    case restoringVocabulary = "restoring_vocabulary", restoringConcepts = "restoring_concepts"
    case restoringSources = "restoring_sources", restoringInstances = "restoring_instances"
    case restoringRelationships = "restoring_relationships", verifying, committing, completed
    case rollingBack = "rolling_back", failed

    /// The stages a successful restore passes through, in order.
    public static let successPath: [RestoreStage] = [
        .checking, .creatingCheckpoint, .loading, .restoringVocabulary, .restoringConcepts, .restoringSources,
        .restoringInstances, .restoringRelationships, .verifying, .committing, .completed,
    ]

    /// Words for people.
    public var title: String {
        switch self {
        case .checking: return "Checking the backup"
        case .creatingCheckpoint: return "Creating a checkpoint"
        case .loading: return "Loading into staging"
        case .restoringVocabulary: return "Restoring vocabulary"
        case .restoringConcepts: return "Restoring concepts"
        case .restoringSources: return "Restoring sources"
        case .restoringInstances: return "Restoring instances"
        case .restoringRelationships: return "Restoring relationships"
        case .verifying: return "Verifying the graph"
        case .committing: return "Committing"
        case .completed: return "Completed"
        case .rollingBack: return "Rolling back"
        case .failed: return "Failed"
        }
    }
}

/// What a finished restore reports in its `result`.
public struct RestoreJobResult: Codable, Sendable, Equatable, CheckpointedResult {
    public var mode: RestoreMode
    public var dryRun: Bool
    /// Rows per section written (or, in a dry run, that would be written).
    public var restored: [String: Int]
    /// Rows per section removed because replace mode makes the graph exactly the backup.
    public var removed: [String: Int]
    /// In merge mode: rows per section that already existed and were updated.
    public var updated: [String: Int]
    /// Instances and relationships dropped because they named missing concepts (`external_deps` prune).
    public var pruned: [String: Int]
    /// Instance links and relationships kept aside until their concepts arrive (`external_deps` defer).
    public var deferred: [String: Int]?
    /// Links kept aside earlier (by any restore) that this restore connected.
    public var connected: [String: Int]?
    public var warnings: [String]
    public var seconds: Double
    /// When this restore held the graph's write lock (database clock, ISO 8601):
    /// two restores' intervals never overlap.
    public var lockedFrom: String?
    public var lockedUntil: String?
    /// What became of the checkpoint: nil (none made), `deleted`, or `kept` (with `checkpointID`).
    public var checkpoint: String?
    public var checkpointID: String?

    public init(
        mode: RestoreMode, dryRun: Bool, restored: [String: Int], removed: [String: Int], updated: [String: Int],
        pruned: [String: Int], deferred: [String: Int]? = nil, connected: [String: Int]? = nil,
        warnings: [String], seconds: Double, lockedFrom: String? = nil, lockedUntil: String? = nil
    ) {
        self.deferred = deferred
        self.connected = connected
        self.mode = mode
        self.dryRun = dryRun
        self.restored = restored
        self.removed = removed
        self.updated = updated
        self.pruned = pruned
        self.warnings = warnings
        self.seconds = seconds
        self.lockedFrom = lockedFrom
        self.lockedUntil = lockedUntil
    }

    enum CodingKeys: String, CodingKey {
        case mode, dryRun = "dry_run", restored, removed, updated, pruned, deferred, connected, warnings, seconds
        case lockedFrom = "locked_from", lockedUntil = "locked_until", checkpoint, checkpointID = "checkpoint_id"
    }
}

/// The gateway's 202 answer to `POST /admin/restore`.
public struct RestoreAccepted: Codable, Sendable, Equatable {
    public var jobID: String
    public var status: String
    public var backupStats: [String: Int]
    public var integrityWarnings: [String]

    public init(jobID: String, status: String, backupStats: [String: Int], integrityWarnings: [String]) {
        self.jobID = jobID
        self.status = status
        self.backupStats = backupStats
        self.integrityWarnings = integrityWarnings
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", status, backupStats = "backup_stats", integrityWarnings = "integrity_warnings"
    }
}
