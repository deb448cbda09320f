import Foundation

/// The gateway process's open descriptors and resident memory, from /proc.
struct ProcessFootprint: CustomStringConvertible {
    let fds: Int
    let rssKiB: Int

    init(pid: Int32) {
        fds = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        rssKiB = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    var description: String { "\(fds) fds, \(rssKiB / 1024) MiB resident" }
}
