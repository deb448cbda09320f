import Foundation
import KGDatabase
import KGFormat

/// `kg admin stitch`: connects the links kept aside by `--external-deps defer`
/// to existing concepts of the graph. For each missing concept: a concept with
/// the same id; else one with the same label (case-insensitive, from the
/// reference backup); else the nearest embedding by cosine similarity, if at
/// least the threshold (computed in SQL, one missing concept at a time: nothing
/// is loaded whole). What stays unmatched keeps waiting. Run under the
/// checkpoint pattern, in one transaction (opened after the checkpoint, committed
/// by ``RiskyOperation`` with the job row): a failure part-way changes nothing.
///
/// Stages: checking (matching), creating_checkpoint, stitching, verifying.
struct StitchJob {
    let params: StitchJobParams
    let threshold: Double
    let context: JobContext
    var makeCheckpoint: (() throws -> Void)?

    /// This job's stages and their percent ranges.
    let plan = JobType.stitch.plan

    func report(_ stage: JobStage, done: Int, total: Int, message: String? = nil, force: Bool = false) throws {
        try context.report(stage, of: plan, done: done, total: total, message: message, force: force)
    }

    func run(data db: PGConnection) throws -> StitchJobResult {
        let started = Date()
        try report(.checking, done: 0, total: 1, message: "matching the missing concepts", force: true)
        try db.execute(
            "DROP TABLE IF EXISTS pg_temp.stitch_ref; CREATE TEMP TABLE stitch_ref (concept_id text PRIMARY KEY, label text, embedding double precision[])"
        )
        defer { if db.isOK { _ = try? db.execute("DROP TABLE IF EXISTS pg_temp.stitch_ref") } }
        let missing = try db.query(StitchSQL.waitingConcepts).rows.compactMap { $0[0] }
        // Only the references of concepts that are missing are loaded (the first of each id wins).
        let wanted = Set(missing)
        func load(_ reference: StitchReference) throws {
            guard wanted.contains(reference.conceptID) else { return }
            let embedding = reference.embedding.map { "{" + $0.map { String($0) }.joined(separator: ",") + "}" }
            try db.query(
                "INSERT INTO stitch_ref VALUES ($1, $2, $3::float8[]) ON CONFLICT DO NOTHING",
                [reference.conceptID, reference.label, embedding])
        }
        for reference in params.references { try load(reference) }
        if let file = params.referencesFile, !wanted.isEmpty {
            try Self.readReferences(file, load)
        }
        var reconnections: [Reconnection] = []
        var outcomes: [String: Int] = ["id": 0, "label": 0, "embedding": 0, "unmatched": 0]
        for (index, id) in missing.enumerated() {
            let links = try db.query(StitchSQL.linksWaitingFor, [id]).first("n", as: Int.self) ?? 0
            if let target = try db.query(StitchSQL.byID, [id]).first("t") {
                reconnections.append(Reconnection(missing: id, conceptID: target, how: "id", similarity: nil, links: links))
            } else if let target = try db.query(StitchSQL.byLabel, [id]).first("t") {
                reconnections.append(Reconnection(missing: id, conceptID: target, how: "label", similarity: nil, links: links))
            } else {
                let nearest = try db.query(StitchSQL.byEmbedding, [id])
                if let target = nearest.first("t"), let similarity = nearest.first("sim").flatMap(Double.init), similarity >= threshold {
                    reconnections.append(
                        Reconnection(
                            missing: id, conceptID: target, how: "embedding",
                            similarity: (similarity * 10_000).rounded() / 10_000, links: links))
                } else {
                    outcomes["unmatched", default: 0] += 1
                }
            }
            try report(.checking, done: index + 1, total: missing.count, message: "matching the missing concepts")
        }
        for reconnection in reconnections { outcomes[reconnection.how, default: 0] += 1 }
        try report(.checking, done: 1, total: 1, message: "\(reconnections.count) of \(missing.count) missing concepts matched", force: true)
        if params.dryRun {
            return StitchJobResult(
                dryRun: true, threshold: threshold, reconnections: reconnections, outcomes: outcomes,
                connected: [:], waiting: try waiting(db), seconds: GraphOperationJob.seconds(since: started))
        }

        try context.checkpointStage(makeCheckpoint, of: plan)

        // Each reconnection: the waiting links are copied with the target's id (created by
        // this job) and the originals marked consumed (connected_by this job); then what
        // is complete connects. All in one transaction.
        try db.execute("BEGIN")
        for (index, reconnection) in reconnections.enumerated() {
            try db.query(StitchSQL.rewrite, [reconnection.missing, reconnection.conceptID, context.jobID])
            try db.query(StitchSQL.consume, [reconnection.missing, context.jobID])
            try report(.stitching, done: index + 1, total: reconnections.count, message: "\(reconnection.missing) → \(reconnection.conceptID)")
            try context.checkCancelled()
        }
        var connected: [String: Int] = [:]
        for statement in PendingSQL.connectInstances.dropLast() { try db.query(statement) }
        connected["instances"] = try db.query(PendingSQL.connectInstances.last!, [context.jobID]).affectedRows
        try db.query(PendingSQL.connectRelationships[0])
        connected["relationships"] = try db.query(PendingSQL.connectRelationships[1], [context.jobID]).affectedRows
        try report(.stitching, done: reconnections.count, total: reconnections.count, force: true)
        try report(.verifying, done: 1, total: 1, message: "counting what still waits", force: true)
        return StitchJobResult(
            dryRun: false, threshold: threshold, reconnections: reconnections, outcomes: outcomes,
            connected: connected, waiting: try waiting(db), seconds: GraphOperationJob.seconds(since: started))
    }

    /// Streams the stored request body (`stitch_<job>.json`, checked by the gateway) and hands
    /// out its references one at a time.
    static func readReferences(_ path: String, _ body: @escaping (StitchReference) throws -> Void) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw JobFailure(
                .storage,
                "the stitch request's references (\(path)) are gone from temp storage: "
                    + "something outside kg removed the file; run `kg admin stitch` again")
        }
        defer { try? handle.close() }
        let reader = StitchRequestReader(onReference: body)
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                try chunk.withUnsafeBytes { try reader.feed($0) }
            }
            try reader.finish()
        } catch let error as StitchRequestError {
            throw JobFailure(.badInput, "the stitch request's references (\(path)) cannot be read: \(error.message)")
        }
    }

    private func waiting(_ db: PGConnection) throws -> [String: Int] {
        let r = try db.query(StitchSQL.waitingTotals)
        return ["instances": r.first("instances", as: Int.self) ?? 0, "relationships": r.first("relationships", as: Int.self) ?? 0]
    }
}
