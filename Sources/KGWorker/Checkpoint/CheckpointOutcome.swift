/// What became of a risky job's checkpoint after a success.
enum CheckpointOutcome: Equatable {
    /// No checkpoint was made (`--no-checkpoint`, a dry run, a replace restore).
    case none
    /// Made and deleted after the success.
    case deleted(id: String)
    /// Made and kept (`--keep-checkpoint`).
    case kept(id: String)

    /// For the job's result: `deleted`, `kept`, or nil.
    var label: String? {
        switch self {
        case .none: return nil
        case .deleted: return "deleted"
        case .kept: return "kept"
        }
    }

    var id: String? {
        switch self {
        case .none: return nil
        case .deleted(let id), .kept(let id): return id
        }
    }
}
