import Foundation

/// A block of status lines on standard error, redrawn in place (cursor up,
/// clear line) at most ten times a second, and only on a terminal: a log file
/// gets nothing. ``finish(_:)`` draws the last state and leaves it on screen.
final class LiveLines {
    private var drawn = 0
    private var last = Date.distantPast
    private let interval: Double

    init(interval: Double = 0.1) { self.interval = interval }

    /// Redraws with `lines()` unless the last redraw was less than `interval` ago.
    func update(force: Bool = false, _ lines: () -> [String]) {
        guard Terminal.stderrIsTTY else { return }
        let now = Date()
        guard force || now.timeIntervalSince(last) >= interval else { return }
        last = now
        draw(lines())
    }

    /// Draws `lines` a last time and moves below them.
    func finish(_ lines: [String]) {
        guard Terminal.stderrIsTTY else { return }
        draw(lines)
        FileHandle.standardError.write(Data("\n".utf8))
        drawn = 0
    }

    /// Erases the block (before a message that replaces it).
    func clear() {
        guard Terminal.stderrIsTTY, drawn > 0 else { return }
        FileHandle.standardError.write(Data((Self.rewind(drawn) + "\u{1B}[J").utf8))
        drawn = 0
    }

    private func draw(_ lines: [String]) {
        let text = Self.rewind(drawn) + lines.map { "\u{1B}[2K" + $0 }.joined(separator: "\n") + "\u{1B}[J"
        FileHandle.standardError.write(Data(text.utf8))
        drawn = lines.count
    }

    /// From the end of a block of `count` lines back to the start of its first line.
    static func rewind(_ count: Int) -> String {
        count > 1 ? "\r\u{1B}[\(count - 1)A" : "\r"
    }

    /// Columns of the terminal on standard error (80 when unknown); lines
    /// are cut one short of it so that none wraps.
    static var columns: Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        if let value = ProcessInfo.processInfo.environment["COLUMNS"].flatMap(Int.init), value > 0 { return value }
        return 80
    }
}
