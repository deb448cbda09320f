import Foundation

/// The gateway process's open descriptors and resident memory, from /proc.
struct ProcessFootprint: CustomStringConvertible {
    let fds: Int
    let rssKiB: Int
    /// User plus system CPU time the process has used so far, in seconds.
    let cpuSeconds: Double

    init(pid: Int32) {
        fds = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).count
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        rssKiB = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        // Fields 14 and 15 of /proc/<pid>/stat (utime, stime) in clock ticks; the name in
        // field 2 may hold spaces, so count from the ")" that closes it.
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        let ticks = fields.count > 12 ? (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0) : 0
        cpuSeconds = ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    var description: String { "\(fds) fds, \(rssKiB / 1024) MiB resident, \(String(format: "%.2f", cpuSeconds)) s CPU" }
}
