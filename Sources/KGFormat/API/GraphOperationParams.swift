/// The graph surgery jobs besides restores: `prune` and `ontology_delete`.
public enum GraphOperation: String, Codable, Sendable, CaseIterable {
    /// Removes orphaned instances (quotes that evidence no concept), concepts that
    /// no source mentions any more, and the relationships that touch them.
    case prune
    /// Removes an ontology: its sources and their instances, the concepts only it
    /// mentions (and their relationships), and the ontology itself.
    case ontologyDelete = "ontology_delete"

    /// The stages of the job, in order (the CLI's stage board).
    public var stages: [(name: String, title: String)] {
        switch self {
        case .prune:
            return [
                ("checking", "Counting what to prune"), ("creating_checkpoint", "Creating a checkpoint"),
                ("pruning", "Pruning"), ("verifying", "Verifying the graph"),
            ]
        case .ontologyDelete:
            return [
                ("checking", "Counting what to delete"), ("creating_checkpoint", "Creating a checkpoint"),
                ("deleting", "Deleting the ontology"), ("verifying", "Verifying the graph"),
            ]
        }
    }

    /// The stage where the graph changes.
    public var workStage: String { self == .prune ? "pruning" : "deleting" }
}

/// A `prune` or `ontology_delete` job's `params`, written by the gateway and read by the worker.
public struct GraphOperationParams: Codable, Sendable, Equatable, RiskyJobOptions {
    /// The ontology to delete (`ontology_delete`).
    public var ontology: String?
    /// Count what would go; change nothing (and make no checkpoint).
    public var dryRun: Bool
    /// Make a checkpoint first (nil: yes, unless a dry run).
    public var checkpoint: Bool?
    public var keepCheckpoint: Bool?
    public var noWait: Bool?

    public init(ontology: String? = nil, dryRun: Bool = false, checkpoint: Bool? = nil, keepCheckpoint: Bool? = nil, noWait: Bool? = nil) {
        self.ontology = ontology
        self.dryRun = dryRun
        self.checkpoint = checkpoint
        self.keepCheckpoint = keepCheckpoint
        self.noWait = noWait
    }

    enum CodingKeys: String, CodingKey {
        case ontology, dryRun = "dry_run", checkpoint, keepCheckpoint = "keep_checkpoint", noWait = "no_wait"
    }
}

/// What a finished prune or ontology delete reports in its `result`.
public struct GraphOperationResult: Codable, Sendable, Equatable, CheckpointedResult {
    public var operation: GraphOperation
    public var dryRun: Bool
    public var ontology: String?
    /// Rows removed per kind (or, in a dry run, that would be removed).
    public var removed: [String: Int]
    public var seconds: Double
    /// `deleted`, `kept`, or nil when no checkpoint was made.
    public var checkpoint: String?
    public var checkpointID: String?

    public init(
        operation: GraphOperation, dryRun: Bool, ontology: String?, removed: [String: Int], seconds: Double,
        checkpoint: String? = nil, checkpointID: String? = nil
    ) {
        self.operation = operation
        self.dryRun = dryRun
        self.ontology = ontology
        self.removed = removed
        self.seconds = seconds
        self.checkpoint = checkpoint
        self.checkpointID = checkpointID
    }

    enum CodingKeys: String, CodingKey {
        case operation, dryRun = "dry_run", ontology, removed, seconds, checkpoint, checkpointID = "checkpoint_id"
    }
}

/// The gateway's 202 answer to `POST /admin/prune` and `POST /admin/ontology/delete`.
public struct JobAccepted: Codable, Sendable, Equatable {
    public var jobID: String
    public var status: String

    public init(jobID: String, status: String) {
        self.jobID = jobID
        self.status = status
    }

    enum CodingKeys: String, CodingKey { case jobID = "job_id", status }
}
