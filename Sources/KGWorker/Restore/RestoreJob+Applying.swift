import Foundation
import KGDatabase
import KGFormat

/// The stages inside the database, after loading: the checks on staging, the
/// `restoring_*` stages that apply it to the live graph (replace or merge),
/// `verifying` and `committing`. All in the restore's one transaction.
extension RestoreJob {
    /// Duplicate ids, references and external dependencies, inside the database.
    func checkStaging(_ db: PGConnection) throws -> Staged {
        let direct = !merge
        for check in RestoreSQL.stagingChecks {
            let offending = try db.query(check.sql).rows.compactMap { $0[0] }
            if !offending.isEmpty {
                throw JobFailure(.badInput, "the backup cannot be restored: \(check.message) (\(offending.joined(separator: ", ")))")
            }
        }
        let missingSources = try db.query(RestoreSQL.missingSources(merge: merge)).rows.compactMap { $0[0] }
        if !missingSources.isEmpty {
            throw JobFailure(
                .badInput,
                "the backup cannot be restored: instances name sources that neither the backup nor the graph holds (\(missingSources.joined(separator: ", ")))"
            )
        }
        let instances = try db.query(RestoreSQL.danglingInstances(merge: merge, direct: direct))
        let danglingInstances = instances.first("n", as: Int.self) ?? 0
        let missingConcepts = instances.first("c", as: Int.self) ?? 0
        let danglingEdges = try db.query(RestoreSQL.danglingRelationships(merge: merge, direct: direct)).first("n", as: Int.self) ?? 0
        var staged = Staged()
        guard danglingInstances + danglingEdges > 0 else { return staged }
        switch params.externalDeps {
        case .fail:
            throw JobFailure(
                .badInput,
                Self.externalDependencyRefusal(
                    instances: danglingInstances, relationships: danglingEdges,
                    concepts: missingConcepts))
        case .prune:
            staged.pruned["instances"] = try db.query(RestoreSQL.pruneInstances(merge: merge, direct: direct)).affectedRows
            staged.pruned["relationships"] = try db.query(RestoreSQL.pruneRelationships(merge: merge, direct: direct)).affectedRows
        case .deferred, .stitch:
            staged.deferred["instances"] = try db.query(PendingSQL.deferInstances(merge: merge, direct: direct), [settings.jobID]).affectedRows
            staged.deferred["relationships"] = try db.query(PendingSQL.deferRelationships(merge: merge, direct: direct), [settings.jobID])
                .affectedRows
            try db.query(RestoreSQL.pruneInstances(merge: merge, direct: direct))
            try db.query(RestoreSQL.pruneRelationships(merge: merge, direct: direct))
        }
        staged.warnings = Self.externalDependencyWarnings(staged, strategy: params.externalDeps)
        return staged
    }

    /// The refusal of a restore with `--external-deps fail` whose records name concepts it cannot find.
    static func externalDependencyRefusal(instances: Int, relationships: Int, concepts: Int) -> String {
        """
        \(instances) instance links and \(relationships) relationships name concepts that neither the backup \
        nor the graph holds (external dependencies, \(concepts)+ concepts); restore the ontologies that hold them \
        first, or restore with --external-deps prune to leave them out (or defer to connect them when their concepts arrive)
        """
    }

    /// What a restore that left out (prune) or kept aside (defer, stitch) external links says about them.
    static func externalDependencyWarnings(_ staged: Staged, strategy: ExternalDepsStrategy) -> [String] {
        switch strategy {
        case .fail:
            return []
        case .prune:
            return [
                "left out \(staged.pruned["instances"] ?? 0) instance links and \(staged.pruned["relationships"] ?? 0) relationships that name concepts outside the backup and the graph (--external-deps prune)"
            ]
        case .deferred, .stitch:
            return [
                "kept aside \(staged.deferred["instances"] ?? 0) instance links and \(staged.deferred["relationships"] ?? 0) relationships that name concepts outside the backup and the graph; they are connected when those concepts arrive (--external-deps \(strategy.rawValue); `kg admin stitch --pending` shows them\(strategy == .stitch ? "; the backup does not hold the missing concepts, so only ids could match: `kg admin stitch --backup FILE` matches them by label and embedding" : ""))"
            ]
        }
    }

    /// The `restoring_*` stages: staging into the live graph, section by section.
    /// `hint` names the backup field(s) an index holds while a statement may hit it.
    func applyStage(_ db: PGConnection, _ loaded: Loaded, hint: RestoreErrorMessage.Hint) throws -> Applied {
        var applied = Applied()
        let hasVocabulary = loaded.sections.contains("vocabulary")
        if !merge {
            // The live graph was emptied before loading; the snapshot says what is gone for good.
            let removals = try db.query(RestoreSQL.replaceRemovals(fileHasVocabulary: hasVocabulary))
            for section in ["concepts", "sources", "instances", "relationships", "vocabulary"] {
                applied.removed[section] = removals.first(section, as: Int.self) ?? 0
            }
        }
        try report(.restoringVocabulary, done: 0, total: loaded.counts["vocabulary"] ?? 0, force: true)
        if hasVocabulary {
            let statements = RestoreSQL.vocabulary(merge: merge, replaceAll: !merge)
            try hint.during("vocabulary", ["relationship_type"]) {
                for statement in statements.dropLast() { try db.query(statement) }
                count(try db.query(RestoreSQL.counted(statements.last!)), "vocabulary", &applied)
            }
        }
        // Types the relationships use and the vocabulary lacks join it: their values are the relationships'.
        let added = try hint.during("relationships", ["type"]) {
            try db.query(RestoreSQL.addMissingTypes).rows.compactMap { $0[0] }
        }
        if !added.isEmpty {
            applied.warnings.append(
                "added \(added.count) relationship type(s) the backup used without defining: \(added.prefix(5).joined(separator: ", "))")
        }
        try report(.restoringVocabulary, done: 1, total: 1, force: true)

        try report(.restoringConcepts, done: 0, total: loaded.counts["concepts"] ?? 0, force: true)
        if merge {
            try hint.during("concepts", ["concept_id"]) {
                count(try db.query(RestoreSQL.counted(RestoreSQL.concepts)), "concepts", &applied)
            }
        } else {
            applied.restored["concepts"] = loaded.directConcepts  // already in kg.concepts (COPY during loading)
        }
        try report(.restoringConcepts, done: 1, total: 1, force: true)

        try report(.restoringSources, done: 0, total: loaded.counts["sources"] ?? 0, force: true)
        // kg.ontologies' key takes the file's ontology list, then its sources' documents.
        try hint.during("ontologies", ["name"]) { try db.query(RestoreSQL.ontologies[0]) }
        try hint.during("sources", ["document"]) { try db.query(RestoreSQL.ontologies[1]) }
        try hint.during("sources", ["source_id", "document"]) {
            count(try db.query(RestoreSQL.counted(RestoreSQL.sources)), "sources", &applied)
        }
        try report(.restoringSources, done: 1, total: 1, force: true)

        try report(.restoringInstances, done: 0, total: loaded.counts["instances"] ?? 0, force: true)
        try hint.during("instances", ["instance_id", "source_id"]) {
            count(try db.query(RestoreSQL.counted(RestoreSQL.instances(merge: merge))), "instance_rows", &applied)
        }
        applied.restored["instances"] = try hint.during("instances", ["instance_id", "concept_id"]) {
            try db.query(RestoreSQL.evidence(merge: merge)).affectedRows
        }
        applied.restored["instance_rows"] = nil
        applied.updated["instance_rows"] = nil
        try report(.restoringInstances, done: 1, total: 1, force: true)

        try report(.restoringRelationships, done: 0, total: loaded.counts["relationships"] ?? 0, force: true)
        applied.restored["relationships"] = try hint.during("relationships", ["from", "to"]) {
            try db.query(merge ? RestoreSQL.relationshipsMerge : RestoreSQL.relationshipsInsertAll).affectedRows
        }
        if connectsPending {
            // Links kept aside by earlier restores whose concepts exist now.
            for statement in PendingSQL.connectInstances.dropLast() { try db.query(statement) }
            applied.connected["instances"] = try db.query(PendingSQL.connectInstances.last!, [settings.jobID]).affectedRows
            try db.query(PendingSQL.connectRelationships[0])
            applied.connected["relationships"] = try db.query(PendingSQL.connectRelationships[1], [settings.jobID]).affectedRows
            if applied.connected.values.reduce(0, +) == 0 { applied.connected = [:] }
        }
        try report(.restoringRelationships, done: 1, total: 1, force: true)
        return applied
    }

    /// Reads the one row of ``RestoreSQL/counted(_:)``: rows inserted and updated.
    private func count(_ result: PGResult, _ section: String, _ applied: inout Applied) {
        applied.restored[section] = result.first("inserted", as: Int.self) ?? 0
        applied.updated[section] = result.first("updated", as: Int.self) ?? 0
    }

    /// The `verifying` stage: the integrity of the live graph inside the transaction.
    func verifyStage(_ db: PGConnection) throws {
        let checks = RestoreSQL.postChecks(replace: !merge, direct: !merge)
        for (index, check) in checks.enumerated() {
            try report(.verifying, done: index, total: checks.count, message: "verifying the restored graph", force: true)
            let offending = try db.query(check.sql).rows.compactMap { $0[0] }
            if !offending.isEmpty {
                throw JobFailure(.integrity, "the restored graph failed its integrity check: \(check.message) (\(offending.joined(separator: ", ")))")
            }
        }
    }

    /// The `committing` stage: the commit is the caller's, with the job row (``RiskyOperation``);
    /// a dry run rolls back here. Returns the time the graph was released.
    func commitStage(_ db: PGConnection) throws -> String? {
        try report(.committing, done: 0, total: 1, message: params.dryRun ? "dry run: rolling back" : "committing", force: true)
        if !params.dryRun, let beforeCommit { try beforeCommit(db) }
        let lockedUntil = try Self.clock(db)
        if params.dryRun { try db.execute("ROLLBACK") }
        return lockedUntil
    }
}
