import KGFormat

@testable import KGWorker

/// A ``JobReporter`` double: records every report, can stop the job at a chosen
/// report (as a cancel would), and counts the records a restore was about to load.
final class RecordingReporter: JobReporter {
    struct Report: Equatable {
        let stage: JobStage
        let percent: Double
        let processed: Int
        let total: Int
        let message: String?
        let force: Bool
    }

    private(set) var reports: [Report] = []
    private(set) var currentPercent = 0.0
    private(set) var recordsAnnounced: [String: Int] = [:]
    /// Set to stop the job (cancelled) at the next report or check.
    var stop: JobFailure?

    func progress(stage: JobStage, percent: Double, processed: Int, total: Int, message: String?, force: Bool) throws {
        reports.append(Report(stage: stage, percent: percent, processed: processed, total: total, message: message, force: force))
        currentPercent = max(currentPercent, percent)
        if let stop { throw stop }
    }

    func checkCancelled() throws {
        if let stop { throw stop }
    }

    func willLoad(section: String, record: JSONValue) {
        recordsAnnounced[section, default: 0] += 1
    }

    /// The stages reported, each once, in order.
    var stages: [JobStage] {
        reports.map(\.stage).reduce(into: []) { if $0.last != $1 { $0.append($1) } }
    }
}
