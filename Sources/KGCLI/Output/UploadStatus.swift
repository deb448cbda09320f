/// The upload's status line: bytes sent of the total, percent, a bar, the
/// rate and the time left. Pure, so it can be checked without a terminal.
///
/// ```text
/// upload   48.2%  [###########-------------]  4.6 MB / 9.6 MB  12.0 MB/s  ETA 0:01
/// ```
enum UploadStatus {
    /// `from`: the byte this run started at (a resumed upload): the rate counts what this run sent.
    /// `label`: `upload+check` when the local check rides along the upload's read.
    static func line(sent: Int64, total: Int64, elapsed: Double, from: Int64 = 0, label: String = "upload") -> String {
        let fraction = total > 0 ? Double(sent) / Double(total) : 0
        let rate = elapsed > 0 ? Double(max(0, sent - from)) / elapsed : 0
        var parts = [
            label,
            percent(fraction),
            Terminal.bar(fraction),
            "\(Terminal.bytes(sent)) / \(Terminal.bytes(total))",
            "\(Terminal.bytes(Int64(rate)))/s",
        ]
        if sent >= total && total > 0 {
            // The gateway checks the bytes as they arrive and answers when the last one is in.
            parts.append("waiting for the gateway's verdict…")
        } else {
            parts.append("ETA " + (rate > 0 ? Terminal.duration(Double(total - sent) / rate) : "--:--"))
        }
        return parts.joined(separator: "  ")
    }

    /// `" 48.2%"`, never `100.0%` before the end.
    static func percent(_ fraction: Double) -> String {
        let value = max(0, min(1, fraction.isFinite ? fraction : 0)) * 100
        let shown = value < 100 ? min(value, 99.9) : 100
        return String(format: "%5.1f%%", shown)
    }
}
