extension IntegrityReport {
    /// The report for people: one line per finding, what the file holds,
    /// the verdict, and for an invalid file what to do next.
    ///
    /// ```text
    /// error [references] instance i12 names source s9, which the file does not contain
    ///
    /// full_backup, version 1.0, schema 12, written by kg 0.3.0 at 2024-05-01T10:00:00Z
    /// records: vocabulary 30, concepts 120, sources 14, instances 410, relationships 233
    /// INVALID: 1 error
    /// Next step: …
    /// ```
    public func renderText() -> String {
        var lines = findings.map(\.description)
        if !lines.isEmpty { lines.append("") }

        var about: [String] = [backupType ?? "unknown backup type"]
        if let ontology { about.append("ontology \(JSONEscaping.quoted(ontology))") }
        if let version { about.append("version \(version)") }
        if let schemaVersion {
            about.append(isFromThisSystem ? "schema \(schemaVersion)" : "platform schema \(schemaVersion)")
        }
        var written = ""
        if let producer, let name = producer.name {
            written = "written by \(name)" + (producer.version.map { " \($0)" } ?? "")
        }
        if let timestamp { written += written.isEmpty ? "exported at \(timestamp)" : " at \(timestamp)" }
        if !written.isEmpty { about.append(written) }
        // Nothing to say about a file that could not be opened.
        if about.count > 1 || backupType != nil || !counts.isEmpty {
            lines.append(about.joined(separator: ", "))
        }

        if !counts.isEmpty {
            lines.append(
                (valid || errors.contains { $0.category != .format } ? "records: " : "records read: ")
                    + orderedCounts.map { "\($0.name) \($0.count)" }.joined(separator: ", "))
        }
        if let statistics {
            lines.append("statistics in the file: " + statistics.jsonText)
        }
        if externalDeps > 0 { lines += externalDependencyLines }

        if valid {
            lines.append(warnings.isEmpty ? "valid" : "valid (\(plural(warnings.count, "warning")))")
        } else {
            var verdict = "INVALID: \(plural(errors.count, "error"))"
            if !warnings.isEmpty { verdict += ", \(plural(warnings.count, "warning"))" }
            lines.append(verdict)
            lines.append("Next step: " + nextStep)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What each `--external-deps` strategy would do with the records naming
    /// the external dependencies, as the worker applies them (`checkStaging`):
    /// in merge mode the database decides which concepts are really missing,
    /// so the counts are upper bounds; a replace empties the graph first.
    private var externalDependencyLines: [String] {
        let refs = externalReferences
        var parts = refs.instances > 0 ? [plural(refs.instances, "instance")] : []
        if let most = refs.relationshipsAtMost {
            parts.append("\(refs.relationships) to \(most) relationships")
        } else if refs.relationships > 0 {
            parts.append(plural(refs.relationships, "relationship"))
        }
        let named = parts.joined(separator: " and ")
        var lines = ["external dependencies: \(plural(externalDeps, "concept"))" + (named.isEmpty ? "" : ", named by \(named)")]
        guard !named.isEmpty else { return lines }
        if refs.relationshipsAtMost != nil {
            lines.append(
                "  (a range: the file names too many concept pairs in relationships before defining the concepts to count them all in bounded memory; `kg admin restore FILE --dry-run` gives the exact figure)"
            )
        }
        lines += [
            "  a restore connects those whose concepts the database already holds (merge, the default mode);",
            "  the rest, at most \(named), under --external-deps:",
            "    prune (default): dropped, and counted in the restore's result",
            "    fail: the restore is refused and changes nothing",
            "    defer: kept aside until their concepts arrive (`kg admin stitch --pending` lists them)",
            "    stitch: kept aside as with defer; `kg admin stitch --backup FILE` then matches them by label or embedding",
            "  --mode replace empties the graph first: then every one of them is dropped, refused or kept aside",
        ]
        return lines
    }

    private var nextStep: String {
        if errors.contains(where: { $0.category == .format }) {
            return
                "this file cannot be restored as it is. If it was cut short or damaged in transit, copy or download it again; otherwise make a new backup with `kg admin backup`."
        }
        return
            "a restore refuses this file. Make a new backup with `kg admin backup`, or repair the records named above and run `kg admin verify` again."
    }

    private func plural(_ n: Int, _ word: String) -> String {
        "\(n) \(word)\(n == 1 ? "" : "s")"
    }
}
