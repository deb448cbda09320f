import KGFormat

/// The lines of a restore's stage board: one line per stage, waiting `·`,
/// running `›` with a bar, `done/total` and the worker's message, finished `✓`
/// (or `–` with the reason for a stage this job skips);
/// for a failed or cancelled restore the stage where it stopped gets `✗` and a
/// last line tells the rollback. A pure function of the job's state, so it can
/// be checked without a terminal; ``LiveLines`` draws it.
///
/// ```text
///   ✓ Checking the backup
///   ✓ Creating a checkpoint
///   › Loading into staging      [#########---------------]  12,000/31,000  copying instances
///   · Restoring vocabulary
/// ```
struct StageBoard {
    /// What became of the job, for the board's last line.
    enum Outcome: Equatable {
        /// Queued or running on the success path.
        case running
        /// All stages done.
        case completed
        /// Failed or cancelled; `finished` is false while the worker is still rolling back.
        case rolledBack(finished: Bool)
    }

    /// A stage on the board: its name in `progress.stage`, and its title for people.
    struct Stage: Equatable {
        let name: String
        let title: String
    }

    /// A restore's stages (the success path without `completed`).
    static let restore = RestoreStage.successPath.filter { $0 != .completed }.map { Stage(name: $0.rawValue, title: $0.title) }
    static let rollingBack = Stage(name: RestoreStage.rollingBack.rawValue, title: RestoreStage.rollingBack.title)

    /// The stages shown, in order.
    let stages: [Stage]
    let barWidth: Int
    /// Stages this job skips, with the reason (a restore that makes no
    /// checkpoint): shown `–` with it once passed, never `✓`.
    let skipped: [String: String]

    init(stages: [Stage] = StageBoard.restore, barWidth: Int = 20, skipped: [String: String] = [:]) {
        self.stages = stages
        self.barWidth = barWidth
        self.skipped = skipped
    }

    /// The line of a stage the job has passed: `✓`, or `–` with the reason when skipped.
    private func passed(_ stage: Stage, width: Int) -> String {
        guard let reason = skipped[stage.name] else { return "  ✓ \(stage.title)" }
        return "  – " + stage.title.padding(toLength: width, withPad: " ", startingAt: 0) + "  skipped: \(reason)"
    }

    /// The stage the board should show as current after the job reported `reported`
    /// (`progress.stage`): a stage on the board, else (`rolling_back`, `failed`,
    /// an unknown name) the stage it was at before, so a failure is pinned on
    /// the stage where it happened.
    func current(reported: String?, previous: Stage?) -> Stage? {
        guard let reported, let stage = stages.first(where: { $0.name == reported }) else { return previous }
        return stage
    }

    /// The board's lines, each cut to `width` columns so that none wraps (a
    /// wrapped line would break redrawing in place).
    ///
    /// - Parameters:
    ///   - current: the stage the job is at (see ``current(reported:previous:)``); nil before it started.
    ///   - progress: the job's latest progress; its items and message are shown on the current stage
    ///     when they belong to it.
    func lines(current: Stage?, progress: JobProgress?, outcome: Outcome, width: Int = 200) -> [String] {
        let titleWidth = stages.map(\.title.count).max() ?? 0
        let index = current.flatMap { stages.firstIndex(of: $0) }
        var lines: [String] = []
        for (position, stage) in stages.enumerated() {
            let line: String
            switch outcome {
            case .completed:
                line = passed(stage, width: titleWidth)
            case .running:
                if let index, position < index {
                    line = passed(stage, width: titleWidth)
                } else if let index, position == index {
                    line = "  › " + titled(stage, detail(progress, ownedBy: stage), width: titleWidth)
                } else {
                    line = "  · \(stage.title)"
                }
            case .rolledBack:
                if let index, position < index {
                    line = passed(stage, width: titleWidth)
                } else if let index, position == index {
                    line = "  ✗ \(stage.title)"
                } else {
                    line = "  · \(stage.title)"
                }
            }
            lines.append(line)
        }
        // A job stopped before its first stage had nothing to roll back.
        if case .rolledBack(let finished) = outcome, index != nil {
            if finished {
                lines.append("  ✓ Rolled back")
            } else {
                lines.append("  ↺ " + titled(Self.rollingBack, detail(progress, ownedBy: Self.rollingBack), width: titleWidth))
            }
        }
        return lines.map { Self.cut($0, to: width) }
    }

    /// The title, padded so that details line up, or alone when there are none.
    private func titled(_ stage: Stage, _ detail: String, width: Int) -> String {
        detail.isEmpty ? stage.title : stage.title.padding(toLength: width, withPad: " ", startingAt: 0) + detail
    }

    /// `  [####----]  1,200/5,000  message` for the running stage; items and
    /// message only when the progress is about that stage.
    private func detail(_ progress: JobProgress?, ownedBy stage: Stage) -> String {
        guard let progress, progress.stage == stage.name else { return "" }
        var parts: [String] = []
        if let done = progress.itemsProcessed, let total = progress.itemsTotal, total > 0 {
            parts.append(Terminal.bar(Double(done) / Double(total), width: barWidth))
            parts.append("\(Terminal.grouped(done))/\(Terminal.grouped(total))")
        }
        if let message = progress.message, !message.isEmpty { parts.append(message) }
        return parts.isEmpty ? "" : "  " + parts.joined(separator: "  ")
    }

    /// Cuts `line` to `width` characters, marking the cut with `…`.
    static func cut(_ line: String, to width: Int) -> String {
        guard width > 1, line.count > width else { return line }
        return String(line.prefix(width - 1)) + "…"
    }
}
