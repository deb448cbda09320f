import Foundation
import KGFormat

/// What `kg admin restore` tells people, as pure functions of what it knows,
/// so every message can be read (and checked) without a server or terminal.
enum RestoreMessages {
    /// Sections in the order the backup summary uses.
    static let sections = ["concepts", "sources", "instances", "relationships", "vocabulary"]

    /// "1,234 concepts, 1 source, 30 vocabulary": sections in order, then any
    /// others by name; zero counts left out when `skipZero`.
    static func counts(_ counts: [String: Int], skipZero: Bool = true) -> String {
        let ordered = sections.filter { counts[$0] != nil } + counts.keys.filter { !sections.contains($0) }.sorted()
        return ordered.compactMap { name -> String? in
            let n = counts[name] ?? 0
            if skipZero && n == 0 { return nil }
            let noun = n != 1 ? name : name.hasSuffix("ies") ? name.dropLast(3) + "y" : name.hasSuffix("s") ? String(name.dropLast()) : name
            return "\(Terminal.grouped(n)) \(noun)"
        }.joined(separator: ", ")
    }

    // MARK: Before

    /// The screen shown before asking for "restore".
    static func confirmation(
        path: String, bytes: Int64, report: IntegrityReport, mode: RestoreMode,
        externalDeps: ExternalDepsStrategy, server: String
    ) -> String {
        var about = report.backupType ?? "unknown backup type"
        if let ontology = report.ontology { about += " of ontology \"\(ontology)\"" }
        if let timestamp = report.timestamp { about += ", taken at \(timestamp)" }
        var lines = [
            "About to restore a backup into the graph on \(server):",
            "  file:     \(path) (\(Terminal.bytes(bytes)))",
            "  backup:   \(about)",
            "  records:  \(counts(report.counts, skipZero: false).nonEmpty ?? "none")",
        ]
        switch mode {
        case .replace:
            lines.append("  mode:     replace: the graph on \(server) will be REPLACED by the backup's content;")
            lines.append("            everything that is not in the backup is deleted")
        case .merge:
            lines.append("  mode:     merge: records in the backup are inserted or updated by id; the rest of the graph stays")
        }
        let usual = RestoreMode.defaultFor(backupType: report.backupType)
        if mode != usual {
            lines.append("            (the usual mode for \(report.backupType ?? "this backup type") is \(usual.rawValue))")
        }
        if report.externalDeps > 0 {
            let what: String
            switch externalDeps {
            case .prune: what = "instances and relationships that name them are dropped (--external-deps prune)"
            case .deferred: what = "instances and relationships that name them wait until those concepts arrive (--external-deps defer)"
            case .stitch:
                what = "instances and relationships that name them wait for a match (--external-deps stitch; then `kg admin stitch --backup FILE`)"
            case .fail: what = "the restore fails if the graph does not hold them (--external-deps fail)"
            }
            // In merge mode records whose concept the graph holds are connected: the file gives upper bounds.
            let refs = report.externalReferences
            let records = counts(["instances": refs.instances, "relationships": refs.relationships]).nonEmpty
            let named = records.map { " (named by \(mode == .merge ? "up to " : "")\($0))" } ?? ""
            lines.append("  external: \(Terminal.grouped(report.externalDeps)) concept(s) the backup names but does not hold\(named); \(what)")
        }
        lines.append("  dry run:  no; this changes data (see what would change first with --dry-run)")
        lines.append("The restore runs in one transaction: if anything fails, it is rolled back and nothing changes.")
        return lines.joined(separator: "\n")
    }

    static let confirmationPrompt = "Type \"restore\" to go ahead, anything else to stop: "

    /// Whether a typed answer confirms the restore (only the word itself).
    static func confirms(_ answer: String?) -> Bool {
        answer?.trimmingCharacters(in: .whitespacesAndNewlines) == "restore"
    }

    static let aborted = "restore aborted; nothing was changed"

    /// The numbered list of local backups to pick from, newest first.
    static func pickList(_ files: [LocalBackups.File], directory: String) -> String {
        "Backups in \(directory), newest first:\n" + LocalBackups.table(files, numbered: true)
    }

    /// The prompt after ``pickList(_:directory:)``.
    static func pickPrompt(count: Int) -> String {
        count == 1 ? "Restore which backup? [1, Enter to stop]: " : "Restore which backup? [1-\(count), Enter to stop]: "
    }

    /// The answer to the pick prompt: an index into the list, `nil` for "stop"
    /// (empty answer), or `.invalid` to ask again.
    enum Pick: Equatable { case index(Int), stop, invalid }

    static func pick(_ answer: String?, count: Int) -> Pick {
        guard let answer else { return .stop }
        let trimmed = answer.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty { return .stop }
        guard let n = Int(trimmed), (1...count).contains(n) else { return .invalid }
        return .index(n - 1)
    }

    // MARK: The gateway's answer

    /// The findings of a 400 answer `{"error", "detail": <report or text>}`, one
    /// line each as `kg admin verify` prints them.
    static func refusal(body: Data) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            let text = String(decoding: body.prefix(2000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            return text.isEmpty ? "the gateway refused the backup as invalid" : "the gateway refused the backup: \(text)"
        }
        var lines: [String] = []
        let detail = object["detail"] as? [String: Any] ?? (object["errors"] != nil ? object : nil)
        if let detail {
            for (key, severity) in [("errors", "error"), ("warnings", "warning")] {
                for finding in detail[key] as? [Any] ?? [] {
                    if let finding = finding as? [String: Any] {
                        let category = finding["category"] as? String ?? "?"
                        let message = finding["message"] as? String ?? "\(finding)"
                        lines.append("\(severity) [\(category)] \(message)")
                    } else {
                        lines.append("\(severity) \(finding)")
                    }
                }
            }
        }
        let error = (object["error"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        let detailText = (object["detail"] as? String).flatMap { $0.isEmpty ? nil : $0 }
        var headline = "the gateway refused the backup"
        if let error { headline += ": \(error)" }
        if let detailText { headline += error == nil ? ": \(detailText)" : " (\(detailText))" }
        return ([headline] + lines).joined(separator: "\n")
    }

    /// 413: the file is over the gateway's limit.
    static func tooLarge(bytes: Int64, gzip: Bool, gatewayMessage: String?) -> String {
        var text = "the file is larger than the gateway accepts (\(Terminal.bytes(bytes))"
        if let gatewayMessage, !gatewayMessage.isEmpty { text += "; the gateway says: \(gatewayMessage)" }
        text += "). Nothing was changed. Ask the gateway's operator to raise its upload limit"
        text += gzip ? "." : ", or compress the file first (`gzip -k FILE`) and restore the .json.gz."
        return text
    }

    // MARK: After

    /// The summary of a completed restore, from the job's result.
    /// Warnings in `shownWarnings` were printed before (the local check's, the gateway's) and are not repeated.
    static func summary(_ result: RestoreJobResult, shownWarnings: Set<String> = []) -> String {
        let seconds = String(format: "%.1f s", result.seconds)
        let restored = counts(result.restored).nonEmpty
        let removed = counts(result.removed).nonEmpty
        let updated = counts(result.updated).nonEmpty
        let pruned = counts(result.pruned).nonEmpty
        var lines: [String] = []
        // A replace writes every record (`restored`); a merge adds what is new
        // (`restored`) and updates what is already there (`updated`).
        let merge = result.mode == .merge
        if result.dryRun {
            var would: [String] = []
            if merge {
                // Every section, zeros included: a merge that adds no instance says so.
                let added = counts(result.restored, skipZero: false)
                would.append("would add " + (added.isEmpty ? "nothing" : added))
                if let updated { would.append("would update \(updated) already there") }
                would.append("would leave instances and relationships already there as they are")
            } else {
                would.append("would restore " + (restored ?? "nothing"))
            }
            if let removed { would.append("would remove \(removed)") }
            if let pruned { would.append("would drop \(pruned) that name missing concepts") }
            if would.isEmpty { would.append("would change nothing") }
            lines.append("dry run (\(result.mode.rawValue)): " + would.joined(separator: "; ") + "; nothing was changed (\(seconds))")
        } else {
            if merge {
                let added = counts(result.restored, skipZero: false)
                lines.append("merged in \(seconds): " + (restored == nil ? "nothing new added" : "added \(added)"))
                if let updated { lines.append("  updated, already there: \(updated)") }
            } else {
                lines.append("restored " + (restored ?? "nothing") + " in \(seconds) (\(result.mode.rawValue))")
            }
            if let removed { lines.append("  removed because not in the backup: \(removed)") }
            if let pruned { lines.append("  dropped because they name missing concepts: \(pruned)") }
            if let deferred = result.deferred.flatMap({ counts($0).nonEmpty }) {
                lines.append("  kept aside until their concepts arrive: \(deferred) (`kg admin stitch --pending`)")
            }
            if let connected = result.connected.flatMap({ counts($0).nonEmpty }) {
                lines.append("  connected, now that their concepts exist: \(connected)")
            }
        }
        if result.checkpoint == "kept", let id = result.checkpointID {
            lines.append("  checkpoint kept: \(id) (`kg admin checkpoints download \(id)`)")
        }
        lines += result.warnings.filter { !shownWarnings.contains($0) }.map { "warning: \($0)" }
        return lines.joined(separator: "\n")
    }

    /// Why a restore job ended without completing, and that nothing was lost.
    static func failed(error: String?, dryRun: Bool) -> String {
        let reason = error.flatMap { $0.isEmpty ? nil : $0 } ?? "the worker gave no reason"
        if dryRun { return "dry run failed: \(reason). Nothing was changed." }
        if reason.hasPrefix("ROLLBACK FAILED") { return "restore failed, and so did the rollback: \(reason)" }
        if reason.contains("rolled back to checkpoint") { return "restore failed: \(reason). No data was lost; the graph is as it was before." }
        return "restore failed and was rolled back: \(reason). No data was lost; the graph is as it was before."
    }

    static let cancelled = "restore cancelled and rolled back; nothing was changed."
}

extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
