import Foundation
import KGDatabase

/// The chaos run's judge: reads the graph, the job table and temp storage once
/// every job has ended, and lists every broken promise (empty: none).
struct ChaosInvariants {
    let stack: TestStack
    let world: ChaosWorld
    let jobs: [ChaosJob]
    let backups: [(process: ManagedProcess, output: String)]

    func statusCounts() throws -> [String: Int] {
        let db = try stack.db()
        defer { db.close() }
        var counts: [String: Int] = [:]
        for row in try db.query("SELECT status, count(*) FROM kg_api.jobs GROUP BY 1").rows {
            counts[row[0] ?? "?"] = Int(row[1] ?? "0") ?? 0
        }
        return counts
    }

    func check() throws -> [String] {
        let db = try stack.db()
        defer { db.close() }
        var violations: [String] = []
        var status: [String: String] = [:]
        for row in try db.query("SELECT job_id::text, status, coalesce(error, '') FROM kg_api.jobs").rows {
            status[row[0] ?? ""] = row[1] ?? "?"
            if row[1] == "queued" || row[1] == "running" { violations.append("job \(row[0] ?? "?") is still \(row[1] ?? "?")") }
        }
        func completed(_ kind: ChaosJob.Kind, _ target: String? = nil) -> [ChaosJob] {
            jobs.filter { $0.kind == kind && !$0.dryRun && $0.target == target && status[$0.id] == "completed" }
        }
        func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String {
            try db.query(sql, parameters).rows.first?.first.flatMap { $0 } ?? ""
        }

        // Merges: an ontology is back if and only if a merge of it completed, and then whole.
        for ontology in world.mergeTargets {
            let (ids, instances) = try ChaosWorld.sources(db, ontology.name)
            let merged = !completed(.merge, ontology.name).isEmpty
            if merged && (ids != ontology.sources || instances != ontology.instances) {
                violations.append(
                    "\(ontology.name): a merge completed, but it holds \(ids.count) sources and \(instances) instances, "
                        + "not \(ontology.sources.count) and \(ontology.instances)")
            }
            if !merged && !ids.isEmpty {
                violations.append("\(ontology.name): no merge of it completed, yet \(ids.count) of its sources are in the graph")
            }
        }
        // Deletes: an ontology is gone if and only if a delete of it completed; else untouched.
        for ontology in world.deleteTargets {
            let (ids, instances) = try ChaosWorld.sources(db, ontology.name)
            let row = try scalar("SELECT count(*) FROM kg.ontologies WHERE name = $1", [ontology.name])
            if !completed(.ontologyDelete, ontology.name).isEmpty {
                if !ids.isEmpty || row != "0" { violations.append("\(ontology.name): its delete completed, but \(ids.count) sources remain") }
            } else if ids != ontology.sources || instances != ontology.instances || row != "1" {
                violations.append(
                    "\(ontology.name): no delete of it completed, yet it holds \(ids.count) sources and \(instances) "
                        + "instances, not \(ontology.sources.count) and \(ontology.instances)")
            }
        }
        // Prunes: the seeded orphans are all gone if a prune completed, all there if none did.
        let orphans =
            Int(
                try scalar(
                    """
                    SELECT (SELECT count(*) FROM kg.instances WHERE instance_id = ANY($1::text[]))
                         + (SELECT count(*) FROM kg.concepts WHERE concept_id = $2)
                    """, ["{\(world.orphanInstances.joined(separator: ","))}", world.orphanConcept])) ?? -1
        let expectedOrphans = completed(.prune).isEmpty ? world.orphanInstances.count + 1 : 0
        if orphans != expectedOrphans {
            violations.append("orphans: \(orphans) left, expected \(expectedOrphans) (\(completed(.prune).count) prunes completed)")
        }
        // Stitches: the seeded link is consumed, by a completed stitch, if and only if one completed; its edge exists once.
        let stitched = !completed(.stitch).isEmpty
        let consumedBy =
            try db.query(
                """
                SELECT connected_by::text FROM kg_api.pending_links WHERE to_id = $1 AND from_id = $2
                """, [world.missingConcept, world.linkFrom]
            ).rows.first?.first ?? nil
        if stitched != (consumedBy != nil) {
            violations.append("stitch: link consumed by \(consumedBy ?? "nobody"), \(completed(.stitch).count) stitches completed")
        }
        if let consumedBy, status[consumedBy] != "completed" {
            violations.append("stitch: link consumed by job \(consumedBy), which is \(status[consumedBy] ?? "unknown")")
        }
        let edges = try scalar(
            """
            SELECT count(*) FROM kg.relationships WHERE from_concept_id = $1 AND to_concept_id = $2 AND properties @> '{"chaos": "stitch"}'
            """, [world.linkFrom, world.stitchTarget])
        if edges != (stitched ? "1" : "0") { violations.append("stitch: \(edges) stitched edges, stitched: \(stitched)") }
        let strays = try db.query(
            """
            SELECT created_by::text FROM kg_api.pending_links p JOIN kg_api.jobs j ON j.job_id = p.created_by WHERE j.status <> 'completed'
            UNION ALL
            SELECT connected_by::text FROM kg_api.pending_links p JOIN kg_api.jobs j ON j.job_id = p.connected_by WHERE j.status <> 'completed'
            """
        ).rows.compactMap { $0[0] }
        if !strays.isEmpty { violations.append("pending links changed by jobs that did not complete: \(strays)") }

        // The graph's integrity (what foreign keys cannot guard).
        let badTypes = try scalar(
            """
            SELECT count(*) FROM kg.relationships r WHERE NOT EXISTS (SELECT 1 FROM kg.vocabulary v WHERE v.relationship_type = r.relationship_type)
            """)
        let badDocuments = try scalar(
            """
            SELECT count(*) FROM kg.sources s WHERE NOT EXISTS (SELECT 1 FROM kg.ontologies o WHERE o.name = s.document)
            """)
        if badTypes != "0" || badDocuments != "0" {
            violations.append("integrity: \(badTypes) relationships of unknown types, \(badDocuments) sources of unknown ontologies")
        }

        // Checkpoints: only kept ones remain, each of a job that did not complete.
        for row in try db.query(
            """
            SELECT c.checkpoint_id::text, c.status, coalesce(j.status, 'none') FROM kg_api.checkpoints c
            LEFT JOIN kg_api.jobs j ON j.job_id = c.job_id
            """
        ).rows where row[1] != "kept" || row[2] == "completed" {
            violations.append("checkpoint \(row[0] ?? "?") is \(row[1] ?? "?") for a job \(row[2] ?? "?")")
        }
        let kept = Set(try db.query("SELECT checkpoint_id::text FROM kg_api.checkpoints WHERE status = 'kept'").rows.compactMap { $0[0] })
        // Temp files: nothing but kept checkpoints, once the janitors have swept.
        var leftovers: [String] = []
        let deadline = Date().addingTimeInterval(45)
        repeat {
            leftovers = stack.tempFiles().filter { name in
                !(name.hasPrefix(".checkpoint_") && kept.contains(String(name.dropFirst(".checkpoint_".count).prefix(36))))
            }
            if leftovers.isEmpty { break }
            usleep(500_000)
        } while Date() < deadline
        if !leftovers.isEmpty { violations.append("temp files outlived their jobs: \(leftovers)") }

        // Backups: a CLI that said yes left a file that verifies; one that said no left nothing.
        for (index, backup) in backups.enumerated() {
            let exists = FileManager.default.fileExists(atPath: backup.output)
            let succeeded = backup.process.process.terminationStatus == 0
            if succeeded != exists { violations.append("backup \(index): exit \(backup.process.process.terminationStatus), file: \(exists)") }
            if exists {
                let verify = try stack.kg(["admin", "verify", backup.output])
                if verify.exitCode != 0 { violations.append("backup \(index) does not verify: \(verify.summary)") }
            }
        }
        let partials = ((try? FileManager.default.contentsOfDirectory(atPath: stack.root)) ?? []).filter { $0.hasSuffix(".partial") }
        if !partials.isEmpty { violations.append("partial backup files left: \(partials)") }
        return violations
    }
}
