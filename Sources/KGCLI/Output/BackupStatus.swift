import Foundation
import KGFormat

/// The backup's status line. The file's size is known only once the worker has
/// written all of it (the job's result says how many bytes); from then on the
/// bar is bytes received of that total, with rate and time left, as the upload's
/// is. Before, the line says what is known and shows no bar: the worker's share
/// of records is not the share of the file the user has.
///
/// ```text
/// backup  exporting 41% of 26,000 records  12.5 MB received  10.1 MB/s  (size not known yet)
/// backup   48.2%  [###########-------------]  45.6 MB / 94.6 MB  12.0 MB/s  ETA 0:04
/// ```
enum BackupStatus {
    /// `from`: bytes held before this command started (a resumed download): the bar starts
    /// there, and the rate counts only what this command received.
    static func line(job: Job?, received: Int64, elapsed: Double, from: Int64 = 0) -> String {
        let rate = elapsed > 0 ? Double(received - from) / elapsed : 0
        if let total = totalBytes(job) {
            let fraction = total > 0 ? Double(received) / Double(total) : 0
            var parts = [
                "backup", UploadStatus.percent(fraction), Terminal.bar(fraction),
                "\(Terminal.bytes(received)) / \(Terminal.bytes(total))", "\(Terminal.bytes(Int64(rate)))/s",
            ]
            if received >= total {
                parts.append("checking…")
            } else {
                parts.append("ETA " + (rate > 0 ? Terminal.duration(Double(total - received) / rate) : "--:--"))
            }
            return parts.joined(separator: "  ")
        }
        var parts = ["backup"]
        if job == nil || job?.status == .queued {
            parts.append(job == nil ? "waiting for the gateway" : "waiting for a worker")
        } else if let progress = job?.progress {
            var text = String(format: "exporting %.0f%%", min(progress.percent, 99))
            if let total = progress.itemsTotal, total > 0 { text += " of \(Terminal.grouped(total)) records" }
            parts.append(text)
        } else {
            parts.append("exporting")
        }
        parts.append("\(Terminal.bytes(received)) received")
        parts.append("\(Terminal.bytes(Int64(rate)))/s")
        parts.append("(size not known yet)")
        return parts.joined(separator: "  ")
    }

    /// The file's size, once the job has completed and said it.
    static func totalBytes(_ job: Job?) -> Int64? {
        guard let job, job.status == .completed, let result = job.result,
            let data = try? JSONEncoder().encode(result),
            let decoded = try? JSONDecoder().decode(BackupJobResult.self, from: data)
        else { return nil }
        return Int64(decoded.bytes)
    }
}
