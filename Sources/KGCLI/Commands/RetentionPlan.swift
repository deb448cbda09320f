import Foundation
import KGFormat

/// What `kg admin forget` will do: the backups grouped by type and ontology,
/// each group's decisions from ``RetentionPolicy``, and the files (the backup
/// and its sidecars) each removal takes with it.
struct RetentionPlan {
    struct Item {
        let file: LocalBackups.File
        let time: Date
        let reasons: [String]
        /// The backup and its sidecars that exist (`.sha256`).
        let files: [String]
        let bytes: Int64
    }

    struct Group {
        let type: String
        let ontology: String?
        var keep: [Item] = []
        var remove: [Item] = []
        var title: String {
            type + (ontology.map { " \"\($0)\"" } ?? "")
        }
    }

    var groups: [Group]

    static let sidecarSuffixes = [DigestFile.suffix]

    static func make(_ backups: [LocalBackups.File], policy: RetentionPolicy, now: Date = Date()) -> RetentionPlan {
        var byKey: [String: [LocalBackups.File]] = [:]
        var order: [String] = []
        for file in backups {
            let key = groupType(file) + "\u{0}" + (file.header.ontology ?? "")
            if byKey[key] == nil { order.append(key) }
            byKey[key, default: []].append(file)
        }
        var groups: [Group] = []
        for key in order.sorted() {
            let files = byKey[key]!
            let times = files.map(time)
            var group = Group(type: groupType(files[0]), ontology: files[0].header.ontology)
            for decision in policy.apply(to: times, now: now) {
                let file = files[decision.index]
                let sidecars = sidecarSuffixes.map { file.path + $0 }.filter { FileManager.default.fileExists(atPath: $0) }
                let sidecarBytes = sidecars.reduce(Int64(0)) {
                    $0 + (((try? FileManager.default.attributesOfItem(atPath: $1))?[.size] as? NSNumber)?.int64Value ?? 0)
                }
                let item = Item(
                    file: file, time: decision.time, reasons: decision.reasons, files: [file.path] + sidecars,
                    bytes: file.size + sidecarBytes)
                if decision.keep { group.keep.append(item) } else { group.remove.append(item) }
            }
            groups.append(group)
        }
        return RetentionPlan(groups: groups)
    }

    /// The header's type; for an encrypted file read without its key, the kind its name says
    /// (`encrypted full_backup`, `encrypted <ontology>_backup`), so that kinds are never mixed.
    static func groupType(_ file: LocalBackups.File) -> String {
        if let type = file.header.type { return type }
        guard let range = file.name.range(of: "_backup_") else { return "unknown" }
        return "encrypted " + file.name[..<range.lowerBound] + "_backup"
    }

    /// A backup's time: its header's timestamp, else the file's modification time.
    static func time(_ file: LocalBackups.File) -> Date {
        guard let text = file.header.timestamp else { return file.modified }
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text) ?? file.modified
    }

    /// One block per group: every backup with `keep` and its reasons, or `remove`.
    func text(dryRun: Bool) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        var out = ""
        for group in groups {
            out +=
                "\(group.title): \(group.keep.count + group.remove.count) backup(s), keep \(group.keep.count), "
                + (dryRun ? "would remove" : "remove") + " \(group.remove.count)\n"
            let rows = (group.keep.map { ($0, true) } + group.remove.map { ($0, false) }).sorted { $0.0.time > $1.0.time }
            let lines = rows.map { item, keep -> [String] in
                let extra =
                    item.files.count > 1
                    ? " (+ "
                        + item.files.dropFirst().map { ($0 as NSString).pathExtension }
                        .map { "." + $0 }.joined(separator: ", ") + ")" : ""
                return [
                    "  " + (keep ? "keep" : (dryRun ? "would remove" : "remove")), formatter.string(from: item.time),
                    item.file.name + (keep ? "" : extra), keep ? item.reasons.joined(separator: ", ") : "",
                ]
            }
            // The table without its header line.
            out +=
                TextTable.render(header: ["", "", "", ""], rows: lines).split(separator: "\n", omittingEmptySubsequences: false)
                .dropFirst().joined(separator: "\n") + "\n"
        }
        return out
    }
}
