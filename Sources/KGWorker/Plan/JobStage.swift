import KGFormat

/// Every stage a job reports in its `progress.stage` (CONTRACT.md), for all job
/// types. Which stages a job passes through, in which order and with which
/// percent range, is its ``JobPlan``.
enum JobStage: String, CaseIterable, Sendable {
    // Backup
    case counting, exporting, exported
    // Restore (the CLI's titles are ``RestoreStage``'s, whose names these are)
    case checking
    case creatingCheckpoint = "creating_checkpoint"
    case loading
    case restoringVocabulary = "restoring_vocabulary"
    case restoringConcepts = "restoring_concepts"
    case restoringSources = "restoring_sources"
    case restoringInstances = "restoring_instances"
    case restoringRelationships = "restoring_relationships"
    case verifying, committing
    // Graph surgery and stitch
    case pruning, deleting, stitching
    // Ends
    case completed
    case rollingBack = "rolling_back"
    case failed

    /// The restore stage of the same name.
    init(_ stage: RestoreStage) {
        self = JobStage(rawValue: stage.rawValue)!
    }
}
