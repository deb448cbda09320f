import Foundation

/// Resident-set figures of this process from /proc/self/status, in KiB.
enum ProcessMemory {
    static func peakResidentKiB() -> Int { value("VmHWM") }
    static func residentKiB() -> Int { value("VmRSS") }

    /// Resets VmHWM to the current resident size (Linux ≥ 4.0), so that a
    /// later peak belongs to what ran in between. Returns false if refused.
    @discardableResult
    static func resetPeak() -> Bool {
        (try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)) != nil
    }

    private static func value(_ key: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
        for line in status.split(separator: "\n") where line.hasPrefix(key + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? -1
        }
        return -1
    }
}
