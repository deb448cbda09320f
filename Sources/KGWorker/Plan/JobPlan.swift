/// A job's stages in order, each owning a percent range of the whole job, so
/// that the percent rises steadily and never goes down from stage to stage.
///
/// Progress within a stage maps `processed` of `total` linearly into its range.
/// A stage with nothing to do (`total` 0) is complete: it reports the top of its
/// range (one rule for every job; `JobPlanTests`).
///
/// ```swift
/// JobType.prune.plan.percent(.pruning, processed: 50, total: 100)  // 67.5
/// ```
struct JobPlan: Sendable {
    struct Step: Sendable, Equatable {
        let stage: JobStage
        let low: Double
        let high: Double
    }

    let steps: [Step]

    init(_ steps: [(JobStage, Double, Double)]) {
        self.steps = steps.map { Step(stage: $0.0, low: $0.1, high: $0.2) }
    }

    /// The stages in order.
    var stages: [JobStage] { steps.map(\.stage) }

    /// The last stage: after it the graph is checked and the job commits (``RiskyOperation``).
    var lastStage: JobStage { steps.last!.stage }

    /// The percent range of `stage` (0…100 for a stage outside the plan).
    func range(of stage: JobStage) -> (low: Double, high: Double) {
        guard let step = steps.first(where: { $0.stage == stage }) else { return (0, 100) }
        return (step.low, step.high)
    }

    /// The job's percent when `processed` of `total` items of `stage` are done.
    func percent(_ stage: JobStage, processed: Int, total: Int) -> Double {
        let (low, high) = range(of: stage)
        return low + (high - low) * Self.fraction(processed: processed, total: total)
    }

    /// `processed / total` in 0…1; 1 when there is nothing to do.
    static func fraction(processed: Int, total: Int) -> Double {
        total > 0 ? min(1, max(0, Double(processed) / Double(total))) : 1
    }
}
