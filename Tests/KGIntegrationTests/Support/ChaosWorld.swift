import KGTestSupport
import Foundation
import KGClient
import KGDatabase

/// What the chaos run works on, set up so that every job's effect can be checked
/// on its own whatever order the jobs commit in: merges only bring back ontologies
/// that were deleted first (`mergeTargets`), deletes only remove others
/// (`deleteTargets`), prunes remove seeded orphans, stitches connect one seeded
/// pending link; "Philosophy of Mind" is never touched.
struct ChaosWorld {
    struct Ontology {
        let name: String
        let sources: [String]
        let instances: Int
        /// The ontology backup a merge uploads (merge targets only).
        let file: String?
    }

    let mergeTargets: [Ontology]
    let deleteTargets: [Ontology]
    /// Instances that evidence nothing, and a concept nothing mentions: a prune removes them.
    let orphanInstances: [String]
    let orphanConcept = "chaos_orphan_concept"
    /// The seeded pending link waits for `missingConcept`; a stitch connects it by `stitchLabel` to `stitchTarget`.
    let missingConcept = "chaos_missing"
    let linkFrom: String
    let stitchTarget: String
    let stitchLabel: String

    static func sources(_ db: PGConnection, _ ontology: String) throws -> (ids: [String], instances: Int) {
        let ids = try db.query("SELECT source_id FROM kg.sources WHERE document = $1 ORDER BY 1", [ontology]).rows.compactMap { $0[0] }
        let count =
            try db.query(
                """
                SELECT count(*) FROM kg.instances i JOIN kg.sources s ON s.source_id = i.source_id WHERE s.document = $1
                """, [ontology]
            ).rows.first?.first ?? nil
        let instances = Int(count ?? "0") ?? 0
        return (ids, instances)
    }

    static func prepare(_ stack: TestStack) throws -> ChaosWorld {
        let db = try stack.db()
        defer { db.close() }
        let names = try db.query("SELECT name FROM kg.ontologies ORDER BY name").rows.compactMap { $0[0] }
        let base = "Philosophy of Mind"
        let others = names.filter { $0 != base }
        guard others.count >= 4 else { throw StackError("the chaos run needs 5 ontologies, found \(names)") }
        var merges: [Ontology] = []
        for (index, name) in others.prefix(2).enumerated() {
            let (ids, instances) = try sources(db, name)
            let output = "\(stack.root)/chaos-ontology-\(index).json"
            let backup = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", name, "--output", output])
            guard backup.exitCode == 0 else { throw StackError("ontology backup of \(name) failed: \(backup.summary)") }
            let delete = try stack.kg(["ontology", "delete", name, "--yes"])
            guard delete.exitCode == 0 else { throw StackError("deleting \(name) failed: \(delete.summary)") }
            merges.append(Ontology(name: name, sources: ids, instances: instances, file: output))
        }
        var deletes: [Ontology] = []
        for name in others.suffix(2) {
            let (ids, instances) = try sources(db, name)
            deletes.append(Ontology(name: name, sources: ids, instances: instances, file: nil))
        }
        let orphans = (1...10).map { "chaos_orphan_\($0)" }
        try db.query(
            """
            INSERT INTO kg.instances (instance_id, quote, source_id)
            SELECT id, 'evidences nothing', (SELECT min(source_id) FROM kg.sources WHERE document = $2) FROM unnest($1::text[]) AS id
            """, ["{\(orphans.joined(separator: ","))}", base])
        try db.query("INSERT INTO kg.concepts (concept_id, label) VALUES ('chaos_orphan_concept', 'mentioned by nothing')")
        // Two concepts the untouched ontology mentions, the second with a label nobody else has.
        let mentioned = try db.query(
            """
            SELECT c.concept_id, c.label FROM kg.concepts c
            WHERE EXISTS (SELECT 1 FROM kg.evidence e JOIN kg.instances i ON i.instance_id = e.instance_id
                          JOIN kg.sources s ON s.source_id = i.source_id WHERE e.concept_id = c.concept_id AND s.document = $1)
              AND (SELECT count(*) FROM kg.concepts c2 WHERE lower(c2.label) = lower(c.label)) = 1
            ORDER BY c.concept_id LIMIT 2
            """, [base]
        ).rows
        guard mentioned.count == 2, let from = mentioned[0][0], let target = mentioned[1][0], let label = mentioned[1][1] else {
            throw StackError("no two uniquely labelled concepts in \(base)")
        }
        try db.query(
            """
            INSERT INTO kg_api.pending_links (kind, from_id, to_id, relationship_type, properties, missing, created_by)
            VALUES ('relationship', $1, 'chaos_missing', 'IMPLIES', '{"chaos": "stitch"}', ARRAY['chaos_missing'], $2::uuid)
            """, [from, UUID().uuidString])
        return ChaosWorld(
            mergeTargets: merges, deleteTargets: deletes, orphanInstances: orphans,
            linkFrom: from, stitchTarget: target, stitchLabel: label)
    }

    /// Submits one job of `kind` (a dry run now and then); nil when the gateway refused it.
    func submit(_ kind: ChaosJob.Kind, client: HTTPClient, random: inout SeededGenerator) throws -> ChaosJob? {
        let dryRun = random.below(6) == 0
        let response: HTTPResponse
        var target: String?
        switch kind {
        case .merge:
            let ontology = mergeTargets[random.below(mergeTargets.count)]
            target = ontology.name
            var fields = [("mode", "merge")]
            if dryRun { fields.append(("dry_run", "true")) }
            response = try client.uploadMultipart(
                path: "/admin/restore", fields: fields, fileField: "file", filePath: ontology.file!,
                fileName: "ontology.json", contentType: "application/json", onProgress: { _, _ in })
        case .ontologyDelete:
            let ontology = deleteTargets[random.below(deleteTargets.count)]
            target = ontology.name
            let body = try JSONSerialization.data(withJSONObject: ["name": ontology.name, "dry_run": dryRun])
            response = try client.request(method: "POST", path: "/admin/ontology/delete", json: body)
        case .prune:
            response = try client.request(method: "POST", path: "/admin/prune", json: try JSONSerialization.data(withJSONObject: ["dry_run": dryRun]))
        case .stitch:
            let body = try JSONSerialization.data(
                withJSONObject: [
                    "references": [["concept_id": missingConcept, "label": stitchLabel]], "dry_run": dryRun,
                ] as [String: Any])
            response = try client.request(method: "POST", path: "/admin/stitch", json: body)
        case .backup:
            return nil
        }
        guard response.status == 202,
            let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let id = object["job_id"] as? String
        else { return nil }
        return ChaosJob(id: id, kind: kind, target: target, dryRun: dryRun)
    }
}
