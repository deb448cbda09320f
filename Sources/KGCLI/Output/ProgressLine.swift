import Foundation

/// A throttled one-line status on standard error (only on a terminal): never
/// floods a log file, redraws at most ten times a second.
final class ProgressLine {
    private var last = Date.distantPast
    private let interval: Double
    let started = Date()

    init(interval: Double = 0.1) { self.interval = interval }

    func update(force: Bool = false, _ line: () -> String) {
        guard Terminal.stderrIsTTY else { return }
        let now = Date()
        guard force || now.timeIntervalSince(last) >= interval else { return }
        last = now
        Terminal.status(line())
    }

    func clear() { Terminal.endStatus() }

    var elapsed: Double { Date().timeIntervalSince(started) }
}
