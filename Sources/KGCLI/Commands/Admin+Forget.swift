import ArgumentParser
import Foundation
import KGFormat

extension Admin {
    /// `kg admin forget --keep-… [--dry-run] [--json]`: removes old backups from
    /// backup_dir by a restic-style policy (``RetentionPolicy``), per backup type
    /// and ontology, with their `.sha256` sidecars. Local only; no server needed.
    struct Forget: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove old backups from backup_dir by a retention policy (restic's --keep-* rules), per type and ontology.",
            discussion: """
                The backups in backup_dir (those `kg admin list-backups` shows) are grouped by the backup type and \
                ontology in each file's header, and each group is thinned on its own, newest first, by restic's \
                `forget` rules: --keep-last N keeps the N newest; --keep-hourly/daily/weekly/monthly/yearly N keep \
                the newest backup of each of the N most recent hours/days/ISO weeks/months/years (UTC) that have one, \
                and the oldest backup too when a count is left over; --keep-within DURATION (like 30d, 1y6m, 12h; \
                m is months) keeps every backup newer than the group's newest minus DURATION. A backup any rule keeps \
                is kept, with every reason printed. A backup's time is its header's timestamp (else the file's time). \
                Removing a backup removes its FILE.sha256 too. Files that are not backups are never touched.

                At least one --keep-* option is needed; a group is never emptied (its newest backup stays) unless \
                --allow-empty-groups is given, which with no --keep-* option removes every backup. --dry-run prints \
                the same plan and removes nothing. Exit 0, or 1 when a file could not be removed (named). \
                --json prints {"dry_run", "policy", "groups": [{"type", "ontology", "keep": [{"name", "path", "time", \
                "reasons"}], "remove": [{"name", "path", "time", "files", "bytes"}]}], "kept", "removed", \
                "bytes_removed", "errors"}.

                EXAMPLES:
                  kg admin forget --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
                  kg admin forget --keep-last 3
                  kg admin forget --keep-within 30d --json
                """)

        @OptionGroup var output: OutputOptions

        @Option(name: .long, help: "Keep the N newest backups of each group (-1: all).") var keepLast = 0
        @Option(name: .long, help: "Keep the newest backup of each of the last N hours that have one.") var keepHourly = 0
        @Option(name: .long, help: "Keep the newest backup of each of the last N days that have one.") var keepDaily = 0
        @Option(name: .long, help: "Keep the newest backup of each of the last N ISO weeks that have one.") var keepWeekly = 0
        @Option(name: .long, help: "Keep the newest backup of each of the last N months that have one.") var keepMonthly = 0
        @Option(name: .long, help: "Keep the newest backup of each of the last N years that have one.") var keepYearly = 0
        @Option(name: .long, help: "Keep every backup newer than the group's newest minus DURATION (e.g. 30d, 1y6m, 12h).")
        var keepWithin: String?
        @Flag(name: .long, help: "Print what would be kept and removed; remove nothing.") var dryRun = false
        @Flag(name: .long, help: "Let the policy remove every backup of a group (its newest is kept otherwise).")
        var allowEmptyGroups = false

        func validate() throws {
            for (name, value) in [
                ("--keep-last", keepLast), ("--keep-hourly", keepHourly), ("--keep-daily", keepDaily),
                ("--keep-weekly", keepWeekly), ("--keep-monthly", keepMonthly), ("--keep-yearly", keepYearly),
            ]
            where value < -1 {
                throw ValidationError("\(name) must be a count, or -1 for all")
            }
            if let keepWithin, RetentionDuration(parsing: keepWithin) == nil {
                throw ValidationError(
                    "--keep-within \(keepWithin) is not a duration: digits each followed by y (years), "
                        + "m (months), d (days) or h (hours), like 30d or 1y6m")
            }
            if policy.isEmpty && !allowEmptyGroups {
                throw ValidationError(
                    "no --keep-* option given: nothing would be kept. Give a policy, like "
                        + "--keep-daily 7 --keep-weekly 4 (or add --allow-empty-groups to remove every backup)")
            }
        }

        var policy: RetentionPolicy {
            RetentionPolicy(
                last: keepLast, hourly: keepHourly, daily: keepDaily, weekly: keepWeekly, monthly: keepMonthly,
                yearly: keepYearly, within: keepWithin.flatMap(RetentionDuration.init(parsing:)),
                allowEmptyGroups: allowEmptyGroups)
        }

        func run() throws {
            let config = try CLIConfig.load()
            let directory = config.backupDir
            let listing = LocalBackups.scan(directory)
            let plan = RetentionPlan.make(listing.backups, policy: policy)
            var errors: [String] = []
            if !dryRun {
                for group in plan.groups {
                    for item in group.remove {
                        for file in item.files where unlink(file) != 0 {
                            let code = errno
                            if code != ENOENT { errors.append("cannot remove \(file): \(String(cString: strerror(code)))") }
                        }
                    }
                }
            }
            let kept = plan.groups.reduce(0) { $0 + $1.keep.count }
            let removed = plan.groups.reduce(0) { $0 + $1.remove.count }
            let bytes = plan.groups.reduce(Int64(0)) { $0 + $1.remove.reduce(0) { $0 + $1.bytes } }
            if output.json {
                let formatter = ISO8601DateFormatter()
                let groups: [[String: Any]] = plan.groups.map { group -> [String: Any] in
                    let keep: [[String: Any]] = group.keep.map { item -> [String: Any] in
                        ["name": item.file.name, "path": item.file.path, "time": formatter.string(from: item.time), "reasons": item.reasons]
                    }
                    let remove: [[String: Any]] = group.remove.map { item -> [String: Any] in
                        [
                            "name": item.file.name, "path": item.file.path, "time": formatter.string(from: item.time),
                            "files": item.files, "bytes": item.bytes,
                        ]
                    }
                    return ["type": group.type, "ontology": group.ontology ?? NSNull(), "keep": keep, "remove": remove]
                }
                let object: [String: Any] = [
                    "dry_run": dryRun, "policy": policy.description, "groups": groups, "kept": kept,
                    "removed": removed, "bytes_removed": bytes, "errors": errors,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(plan.text(dryRun: dryRun), terminator: "")
                let verb = dryRun ? "would remove" : "removed"
                Terminal.error(
                    "\(policy.description): \(verb) \(removed) backup(s) (\(Terminal.bytes(bytes))), kept \(kept), in \(directory)"
                        + (dryRun ? "; nothing was removed (--dry-run)" : ""))
            }
            for other in listing.others {
                Terminal.error("not a backup, left alone: \(other.name) (\(other.reason))")
            }
            if !errors.isEmpty {
                for error in errors { Terminal.error(error) }
                throw ExitCode(1)
            }
        }
    }
}
