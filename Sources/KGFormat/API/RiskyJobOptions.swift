/// The options every risky operation takes (prune, ontology delete, stitch):
/// a dry run, and the checkpoint flags (`checkpoint`, `keep_checkpoint`, `no_wait`).
///
/// ```swift
/// GraphOperationParams(dryRun: false).makesCheckpoint          // true: on by default
/// GraphOperationParams(dryRun: true).makesCheckpoint           // false: a dry run changes nothing
/// ```
public protocol RiskyJobOptions {
    var dryRun: Bool { get }
    /// Make a checkpoint first (nil: yes, unless a dry run).
    var checkpoint: Bool? { get }
    var keepCheckpoint: Bool? { get }
    var noWait: Bool? { get }
    /// Whether the job makes a checkpoint (a requirement, so that a type's own rule wins).
    var makesCheckpoint: Bool { get }
}

/// A risky job's result, which says what became of its checkpoint.
public protocol CheckpointedResult: Encodable {
    /// `deleted`, `kept`, or nil when no checkpoint was made.
    var checkpoint: String? { get set }
    var checkpointID: String? { get set }
}

extension RiskyJobOptions {
    /// On by default for every risky operation; never for a dry run.
    public var makesCheckpoint: Bool { !dryRun && (checkpoint ?? true) }
}
