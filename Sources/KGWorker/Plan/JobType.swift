import KGFormat

/// The kinds of job a worker runs, as stored in the job row's `job_type` (CONTRACT.md).
/// Everything the runner decides by a job's type is a property here; each job's
/// stages and their percent ranges are its ``plan``.
///
/// A new job type: a case here (with its plan in `JobType+Plan.swift`), a folder
/// under `Sources/KGWorker` for its job, and its branch in `JobRunner.execute`.
enum JobType: String, CaseIterable, Sendable {
    case backup, restore, prune
    case ontologyDelete = "ontology_delete"
    case stitch

    /// The prune or ontology delete job of a graph operation.
    init(_ operation: GraphOperation) {
        switch operation {
        case .prune: self = .prune
        case .ontologyDelete: self = .ontologyDelete
        }
    }

    /// Whether an attempt that lost its worker or its database is run again (until `max_attempts`).
    /// A backup is not: its download already broke off.
    var runsAgain: Bool { self != .backup }

    /// Whether the job's upload (a restore's file, a stitch's references) goes with the job once it ends.
    var removesUploadWhenDone: Bool { self == .restore || self == .stitch }

    /// The job in messages: "ontology delete".
    var name: String { rawValue.replacingOccurrences(of: "_", with: " ") }
}
