import ArgumentParser
import Foundation
import KGClient
import KGFormat

extension Admin {
    /// `kg admin stitch [--backup FILE] [--threshold X] [--dry-run] [--checkpoint|--no-checkpoint]
    /// [--keep-checkpoint] [--no-wait] [--json]`: connect what `--external-deps defer` kept aside
    /// to existing concepts (same id, else same label, else nearest embedding);
    /// `kg admin stitch --pending`: what is still waiting.
    struct Stitch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect the links kept aside by --external-deps defer to existing concepts, or (--pending) show them.",
            discussion: """
                A restore with --external-deps defer keeps instance links and relationships that name missing \
                concepts aside; every later restore connects those whose concepts have arrived. stitch connects \
                each missing concept to an existing one: the same concept_id first, else the same label \
                (case-insensitive), else the nearest embedding by cosine similarity at or above --threshold \
                (default: the server's stitch_threshold, 0.85). Labels and embeddings of the missing concepts \
                come from --backup FILE (a backup that holds them; only those are read, locally); without it \
                only ids match. What stays unmatched keeps waiting. Runs as a job with a checkpoint; \
                --dry-run only reports the matches. Every reconnection is reported.

                EXAMPLES:
                  kg admin stitch --pending
                  kg admin stitch --backup full_backup_20261128_101500.json --dry-run
                  kg admin stitch --backup full_backup_20261128_101500.json --threshold 0.9
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        @OptionGroup var risky: RiskyOptions
        @OptionGroup var decryption: DecryptionOptions

        @Flag(name: .long, help: "Only report what is still waiting, and for which concepts.")
        var pending = false

        @Option(name: .long, help: "A backup holding the missing concepts (their labels and embeddings): a path or a name in backup_dir.")
        var backup: String?

        @Option(name: .long, help: "Least cosine similarity for an embedding match, above 0 and at most 1 (default: the server's, 0.85).")
        var threshold: Double?

        @Flag(name: .long, help: "Report the matches; change nothing.")
        var dryRun = false

        func validate() throws {
            if let threshold, !(threshold > 0 && threshold <= 1) {
                throw ValidationError("--threshold must be above 0 and at most 1")
            }
            if pending && (backup != nil || threshold != nil || dryRun) {
                throw ValidationError("--pending only reports; it takes no --backup, --threshold or --dry-run")
            }
        }

        func run() throws {
            if pending { return try showPending() }
            let config = try global.config()
            let client = try global.client(config)
            var references: [StitchReference] = []
            if let backup {
                let path = LocalBackups.resolve(backup, backupDir: config.backupDir)
                guard FileManager.default.fileExists(atPath: path) else {
                    throw CLIError("no such file: \(path). --backup is a path, or a name inside backup_dir (\(config.backupDir))")
                }
                let waiting = try JobCommand.fetch(client, "GET", "/admin/pending/concepts")
                struct IDs: Decodable { let concept_ids: [String] }
                let ids = Set(try waiting.decodeJSON(IDs.self).concept_ids)
                let key = AgeFileCheck.isAge(path) ? try decryption.key(config, for: path) : nil
                references = try StitchReferences.read(path: path, wanted: ids, key: key)
                Terminal.error("\(references.count) of \(ids.count) missing concepts found in \(path)")
            }
            struct Body: Encodable {
                let references: [StitchReference]
                let threshold: Double?
                let dry_run: Bool
                let checkpoint: Bool
                let keep_checkpoint: Bool
                let no_wait: Bool
            }
            let body = try JSONEncoder().encode(
                Body(
                    references: references, threshold: threshold, dry_run: dryRun,
                    checkpoint: risky.checkpoint, keep_checkpoint: risky.keepCheckpoint,
                    no_wait: risky.noWait))
            let response: HTTPResponse
            do {
                response = try client.request(method: "POST", path: "/admin/stitch", json: body)
            } catch let error as HTTPClientError {
                throw CLIError.from(error)
            }
            if response.status == 409 {
                throw CLIError("the gateway refused the stitch: \(response.errorMessage ?? "conflict (409)"). Nothing was changed.")
            }
            guard response.isSuccess else {
                throw CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
            }
            let accepted = try response.decodeJSON(JobAccepted.self)
            let stages = [
                StageBoard.Stage(name: "checking", title: "Matching missing concepts"),
                StageBoard.Stage(name: "creating_checkpoint", title: "Creating a checkpoint"),
                StageBoard.Stage(name: "stitching", title: "Stitching"),
                StageBoard.Stage(name: "verifying", title: "Counting what still waits"),
            ]
            let job = RestoreFollow(client: try global.client(config), jobID: accepted.jobID, label: "stitch", stages: stages).run()
            let result = job.result.flatMap { text -> StitchJobResult? in
                guard let data = try? JSONEncoder().encode(text) else { return nil }
                return try? JSONDecoder().decode(StitchJobResult.self, from: data)
            }
            if job.status == .completed, let result { Terminal.error(Self.summary(result)) }
            try FollowedJobOutput.print(job, json: output.json)
            guard job.status == .completed else { throw CLIError("stitch failed: \(job.error ?? "the worker gave no reason")") }
        }

        /// Every reconnection, then the counts.
        static func summary(_ result: StitchJobResult) -> String {
            var lines = result.reconnections.map { r in
                "  \(r.missing) → \(r.conceptID)  by \(r.how)" + (r.similarity.map { String(format: " (%.3f)", $0) } ?? "")
                    + "  \(r.links) link(s)"
            }
            let outcome = ["id", "label", "embedding", "unmatched"].map {
                "\(result.outcomes[$0] ?? 0) \($0 == "unmatched" ? "unmatched" : "by \($0)")"
            }
            lines.insert(
                (result.dryRun ? "dry run: would reconnect " : "reconnected ") + "\(result.reconnections.count) missing concept(s): "
                    + outcome.joined(separator: ", "), at: 0)
            if !result.dryRun {
                lines.append("connected: \(RestoreMessages.counts(result.connected).nonEmpty ?? "nothing")")
            }
            lines.append("still waiting: \(RestoreMessages.counts(result.waiting).nonEmpty ?? "nothing")")
            return lines.joined(separator: "\n")
        }

        func showPending() throws {
            let response = try JobCommand.fetch(try global.client(try global.config()), "GET", "/admin/pending")
            if output.json {
                print(String(decoding: response.body, as: UTF8.self))
                return
            }
            struct Waiting: Decodable {
                struct Concept: Decodable {
                    let concept_id: String
                    let instances: Int
                    let relationships: Int
                }
                let instances: Int
                let relationships: Int
                let missing_concepts: [Concept]
            }
            let waiting = try response.decodeJSON(Waiting.self)
            if waiting.instances + waiting.relationships == 0 {
                print("nothing is waiting: every deferred link has been connected")
                return
            }
            print(
                "waiting: \(Terminal.grouped(waiting.instances)) instance link(s), \(Terminal.grouped(waiting.relationships)) relationship(s), "
                    + "for these concepts (restore the ontologies that hold them):")
            for concept in waiting.missing_concepts {
                print("  \(concept.concept_id)  \(concept.instances) instance link(s), \(concept.relationships) relationship(s)")
            }
        }
    }
}
