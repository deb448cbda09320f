import KGFormat

/// The values the restore's stages hand on: what each found or did, and the
/// result they add up to (pure: `RestoreOutcomeTests`).
extension RestoreJob {
    /// The checking stage's findings: the file's size, the schema plan, and the full
    /// integrity report when it took a pass of its own (a file with its data first).
    struct CheckedFile {
        let bytes: Int
        let plan: RestorePlan
        let integrity: IntegrityReport?
    }

    /// What loading put into staging: the sections the file has, its records per
    /// section (as checked), the concepts written straight to the live table (replace),
    /// and the checker's warnings.
    struct Loaded {
        let sections: Set<String>
        let counts: [String: Int]
        let directConcepts: Int
        let warnings: [String]
    }

    /// What the checks inside the database left out or kept aside (`--external-deps`).
    struct Staged: Equatable {
        var pruned: [String: Int] = [:]
        var deferred: [String: Int] = [:]
        var warnings: [String] = []
    }

    /// What applying to the live graph wrote, per section.
    struct Applied: Equatable {
        var restored: [String: Int] = [:]
        var updated: [String: Int] = [:]
        var removed: [String: Int] = [:]
        var connected: [String: Int] = [:]
        var warnings: [String] = []
    }

    /// Everything the stages inside the transaction returned.
    struct Outcome {
        let loaded: Loaded
        let staged: Staged
        let applied: Applied
        let lockedFrom: String?
        let lockedUntil: String?

        /// The job's result. A replace writes every record of the file, whether a row with its
        /// id existed before or not: its updates count as restored.
        func result(_ params: RestoreJobParams, plan: RestorePlan, seconds: Double) -> RestoreJobResult {
            let merge = params.mode == .merge
            var restored = applied.restored
            if !merge {
                for (section, n) in applied.updated { restored[section, default: 0] += n }
            }
            var warnings = loaded.warnings + staged.warnings + applied.warnings
            if !plan.converters.isEmpty { warnings.append("converted: \(plan)") }
            return RestoreJobResult(
                mode: params.mode, dryRun: params.dryRun, restored: restored, removed: applied.removed,
                updated: merge ? applied.updated : [:], pruned: staged.pruned,
                deferred: staged.deferred.isEmpty ? nil : staged.deferred,
                connected: applied.connected.isEmpty ? nil : applied.connected, warnings: warnings,
                seconds: seconds, lockedFrom: lockedFrom, lockedUntil: lockedUntil)
        }
    }
}
