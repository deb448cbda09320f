import Foundation
import KGDatabase
import KGFormat

/// Prune and ontology delete: graph surgery in one transaction (PostgreSQL
/// commits millions of deleted rows in one), guarded by the checkpoint pattern
/// (``RiskyOperation``): if anything fails part-way — an error, a cancel, a
/// kill -9 — the transaction rolls back and nothing was changed.
///
/// 1. checking — count what goes (a dry run stops here and reports the counts);
/// 2. creating_checkpoint — the checkpoint (or why there is none);
/// 3. pruning / deleting — `DELETE`s in batches (for progress and cancel checks)
///    inside the one transaction, opened here and committed by ``RiskyOperation``
///    together with the job row;
/// 4. verifying — nothing that should be gone is left.
struct GraphOperationJob {
    let operation: GraphOperation
    let params: GraphOperationParams
    let context: JobContext
    var makeCheckpoint: (() throws -> Void)?

    static let batchSize = 500

    /// This job's stages and their percent ranges.
    var plan: JobPlan { JobType(operation).plan }

    func report(_ stage: JobStage, done: Int, total: Int, message: String? = nil, force: Bool = false) throws {
        try context.report(stage, of: plan, done: done, total: total, message: message, force: force)
    }

    func run(data db: PGConnection) throws -> GraphOperationResult {
        let started = Date()
        try report(.checking, done: 0, total: 1, message: "counting what to \(operation == .prune ? "prune" : "delete")", force: true)
        let steps: [GraphSurgerySQL.Step]
        switch operation {
        case .prune:
            steps = GraphSurgerySQL.prune
        case .ontologyDelete:
            guard let name = params.ontology, !name.isEmpty else { throw JobFailure(.badInput, "an ontology delete needs the ontology's name") }
            guard !(try db.query("SELECT 1 FROM kg.ontologies WHERE name = $1", [name]).isEmpty) else {
                throw JobFailure(.refused, "there is no ontology \"\(name)\"; nothing was changed")
            }
            // The concepts only this ontology mentions, fixed before its sources go.
            try db.execute("DROP TABLE IF EXISTS pg_temp.doomed_concepts")
            try db.query(GraphSurgerySQL.markDoomedConcepts, [name])
            steps = GraphSurgerySQL.ontologyDelete
        }
        defer { if operation == .ontologyDelete, db.isOK { _ = try? db.execute("DROP TABLE IF EXISTS pg_temp.doomed_concepts") } }
        let arguments: [String?] = operation == .ontologyDelete ? [params.ontology] : []

        var counts: [String: Int] = [:]
        for step in steps {
            counts[step.kind, default: 0] += try db.query(step.count, step.bound ? arguments : []).first("n", as: Int.self) ?? 0
        }
        let total = counts.values.reduce(0, +)
        try report(.checking, done: 1, total: 1, message: "\(total) rows to remove", force: true)
        if params.dryRun {
            return GraphOperationResult(
                operation: operation, dryRun: true, ontology: params.ontology, removed: counts,
                seconds: Self.seconds(since: started))
        }

        try context.checkpointStage(makeCheckpoint, of: plan)

        // Batches inside one transaction: a failure part-way is a ROLLBACK.
        try db.execute("BEGIN")
        let stage: JobStage = operation == .prune ? .pruning : .deleting
        var removed: [String: Int] = [:]
        var done = 0
        try report(stage, done: 0, total: total, force: true)
        for step in steps {
            while true {
                let n = try db.query(step.delete, (step.bound ? arguments : []) + [String(Self.batchSize)]).affectedRows
                removed[step.kind, default: 0] += n
                done += n
                try report(stage, done: done, total: max(total, done), message: "removing \(step.kind)")
                try context.checkCancelled()
                if n < Self.batchSize { break }
            }
        }
        try report(stage, done: done, total: max(total, done), force: true)

        try report(.verifying, done: 0, total: 1, message: "checking that nothing to remove is left", force: true)
        for step in steps {
            let left = try db.query(step.count, step.bound ? arguments : []).first("n", as: Int.self) ?? 0
            if left > 0 {
                throw JobFailure(.integrity, "\(left) \(step.kind) that should be gone are still in the graph after the \(operation.rawValue)")
            }
        }
        try report(.verifying, done: 1, total: 1, force: true)
        return GraphOperationResult(
            operation: operation, dryRun: false, ontology: params.ontology, removed: removed,
            seconds: Self.seconds(since: started))
    }

    static func seconds(since start: Date) -> Double { (Date().timeIntervalSince(start) * 100).rounded() / 100 }
}
