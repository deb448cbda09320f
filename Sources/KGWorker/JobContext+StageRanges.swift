extension JobContext {
    /// Progress within a stage that owns the percent range `ranges[stage]` of the
    /// whole job (0…100 when the stage has none): `processed` of `total` maps
    /// linearly into it, so the percent never goes down from stage to stage.
    ///
    /// ```swift
    /// try context.progress(stage: "pruning", in: ["pruning": (40, 95)], processed: 50, total: 100)  // 67.5 %
    /// ```
    func progress(stage: String, in ranges: [String: (Double, Double)], processed: Int, total: Int,
                  message: String? = nil, force: Bool = false) throws {
        let (low, high) = ranges[stage] ?? (0, 100)
        let fraction = total > 0 ? min(1, Double(processed) / Double(total)) : 1
        try progress(stage: stage, percent: low + (high - low) * fraction, processed: processed, total: total,
                     message: message, force: force)
    }

    /// The `creating_checkpoint` stage of a risky graph job: writes the checkpoint
    /// (``RiskyOperation``'s `makeCheckpoint`), or reports it skipped (`--no-checkpoint`).
    func checkpointStage(_ makeCheckpoint: (() throws -> Void)?, in ranges: [String: (Double, Double)]) throws {
        let stage = "creating_checkpoint"
        guard let makeCheckpoint else {
            return try progress(stage: stage, in: ranges, processed: 1, total: 1, message: "skipped (--no-checkpoint)", force: true)
        }
        try progress(stage: stage, in: ranges, processed: 0, total: 1, message: "writing a full backup of the graph", force: true)
        try makeCheckpoint()
        try progress(stage: stage, in: ranges, processed: 1, total: 1, force: true)
    }
}
