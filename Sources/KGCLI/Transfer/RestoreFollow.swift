import Foundation
import KGClient
import KGFormat

/// Follows a restore job (or another risky job: `label` and `stages`) to its end
/// (``JobFollower``: events, else polling) and, on a terminal, draws the
/// ``StageBoard`` under a header line. Ctrl-C stops following, not the job, and
/// says how to watch or cancel it.
struct RestoreFollow {
    let client: HTTPClient
    let jobID: String
    var label = "restore"
    var stages = StageBoard.restore
    /// Stages the job skips, with the reason (``StageBoard/skipped``).
    var skipped: [String: String] = [:]

    /// Blocks until the job completes, fails or is cancelled; returns its last state.
    func run() -> Job {
        let follower = JobFollower(client: client, jobID: jobID)
        let live = LiveLines()
        let board = StageBoard(stages: stages, skipped: skipped)
        let jobID = self.jobID
        let label = self.label
        let trap = InterruptTrap {
            let text =
                (Terminal.stderrIsTTY ? "\n" : "")
                + "kg: stopped following; \(label) job \(jobID) goes on on the server.\n"
                + "Follow it with `kg job watch \(jobID)`, or cancel it (it rolls back) with `kg job cancel \(jobID)`.\n"
            FileHandle.standardError.write(Data(text.utf8))
            exit(130)
        }
        defer {
            trap.remove()
            follower.stop()
        }
        follower.start()

        var stage: StageBoard.Stage?
        var seen: Job?
        var lastChange = Date()
        let started = Date()
        while true {
            let job = follower.waitForEnd(timeout: 0.1)
            if job != seen {
                let before = stage
                stage = board.current(reported: job?.progress?.stage, previous: stage)
                seen = job
                lastChange = Date()
                if let job, job.status.isTerminal {
                    live.finish(
                        Self.lines(board, label: label, jobID: jobID, job: job, stage: stage, elapsed: Date().timeIntervalSince(started), quiet: 0))
                    return job
                }
                live.update(force: stage != before) {
                    Self.lines(board, label: label, jobID: jobID, job: job, stage: stage, elapsed: Date().timeIntervalSince(started), quiet: 0)
                }
            } else {
                live.update {
                    Self.lines(
                        board, label: label, jobID: jobID, job: job, stage: stage, elapsed: Date().timeIntervalSince(started),
                        quiet: Date().timeIntervalSince(lastChange))
                }
            }
        }
    }

    /// The header and the board, cut to the terminal's width.
    static func lines(
        _ board: StageBoard, label: String = "restore", jobID: String, job: Job?, stage: StageBoard.Stage?,
        elapsed: Double, quiet: Double
    ) -> [String] {
        let width = LiveLines.columns - 1
        return [StageBoard.cut(header(label: label, jobID: jobID, job: job, elapsed: elapsed, quiet: quiet), to: width)]
            + board.lines(current: stage, progress: job?.progress, outcome: outcome(job), width: width)
    }

    /// `restore job 9f…  42.3%  0:12` (with how long the gateway has been quiet, when it has).
    static func header(label: String = "restore", jobID: String, job: Job?, elapsed: Double, quiet: Double) -> String {
        var parts = ["\(label) job \(jobID)"]
        switch job?.status {
        case nil, .queued?:
            parts.append("waiting for a worker")
        case .running?:
            if let message = job?.progress?.message, message.hasPrefix("waiting for ") { parts.append(message) }
            if job?.progress?.stage == RestoreStage.rollingBack.rawValue { parts.append("rolling back") }
            parts.append(UploadStatus.percent((job?.progress?.percent ?? 0) / 100))
        case .completed?:
            parts.append("completed")
        case .failed?:
            parts.append("failed")
        case .cancelled?:
            parts.append("cancelled")
        }
        parts.append(Terminal.duration(elapsed))
        if quiet >= 10 { parts.append("(no news from the gateway for \(Int(quiet)) s)") }
        return parts.joined(separator: "  ")
    }

    /// The board's outcome for a job's state.
    static func outcome(_ job: Job?) -> StageBoard.Outcome {
        switch job?.status {
        case .completed?: return .completed
        case .failed?, .cancelled?: return .rolledBack(finished: true)
        default:
            let stage = job?.progress?.stage
            return stage == RestoreStage.rollingBack.rawValue || stage == RestoreStage.failed.rawValue
                ? .rolledBack(finished: false) : .running
        }
    }
}
