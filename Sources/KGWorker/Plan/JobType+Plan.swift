/// Each job's plan, declared once: its stages in order and their percent ranges.
/// The CLI's stage boards (``RestoreStage/successPath``, ``GraphOperation/stages``)
/// name the same stages (`JobPlanTests` keeps them in step).
extension JobType {
    var plan: JobPlan {
        switch self {
        case .backup:
            return JobPlan([(.counting, 0, 0), (.exporting, 0, 100), (.exported, 100, 100)])
        case .restore:
            return JobPlan([
                (.checking, 0, 10), (.creatingCheckpoint, 10, 11), (.loading, 11, 50),
                (.restoringVocabulary, 50, 52), (.restoringConcepts, 52, 68), (.restoringSources, 68, 74),
                (.restoringInstances, 74, 82), (.restoringRelationships, 82, 90), (.verifying, 90, 95), (.committing, 95, 100),
            ])
        case .prune:
            return JobPlan([(.checking, 0, 5), (.creatingCheckpoint, 5, 40), (.pruning, 40, 95), (.verifying, 95, 100)])
        case .ontologyDelete:
            return JobPlan([(.checking, 0, 5), (.creatingCheckpoint, 5, 40), (.deleting, 40, 95), (.verifying, 95, 100)])
        case .stitch:
            return JobPlan([(.checking, 0, 30), (.creatingCheckpoint, 30, 60), (.stitching, 60, 95), (.verifying, 95, 100)])
        }
    }
}
