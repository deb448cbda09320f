import Foundation
import XCTest

/// Load: 5 admin users submit 20 backups and 5 restores at once against 2
/// gateways and 2 workers, all as real CLI processes. Every job completes;
/// restores hold the graph's write lock one at a time; every backup is a
/// consistent snapshot of a graph that was live; no temp file is left.
/// Prints throughput, latency percentiles and the peak concurrency (figures
/// only: no timing is asserted).
final class LoadTests: XCTestCase {
    static let ontology = "Philosophy of Mind"

    /// A graph that is live at some point of the test, and what backups of it hold.
    struct Graph {
        let name: String
        let concepts: Int
        let fullFile: String
        let checksum: String
        let fullConcepts: Set<String>
        let fullCounts: [String: Int]
        let ontologyConcepts: Set<String>
        let ontologyCounts: [String: Int]
    }

    /// One CLI process of the load.
    struct Client {
        let label: String
        let process: ManagedProcess
    }

    func testManyUsersBackupsAndRestoresAtOnce() throws {
        try Self.runLoad()
    }

    /// The load, on the stack's usual broker or (ClusterTests) on a cluster given by
    /// `environment`; `prepare` runs once the stack is up, `midLoad` once every client has been
    /// started (jobs are being submitted and run: a node is killed there).
    static func runLoad(
        environment: [String: String] = [:], prepare: ((TestStack) throws -> Void)? = nil,
        midLoad: ((TestStack) throws -> Void)? = nil
    ) throws {
        // The second gateway starts once the first is ready: two gateways starting together
        // against a database without users both try to create the first admin, and the
        // loser exits (GatewayService.bootstrapAdmin: count, then INSERT, no conflict handling).
        // Each user submits 5 jobs at once: above the default max_jobs_per_user (4).
        let stack = try TestStack(
            workers: 2, gateways: 1,
            environment: ["KG_MAX_JOBS_PER_USER": "10"].merging(environment) { _, new in new })
        defer { stack.stop() }
        try stack.startGateway()
        try stack.waitReady()
        XCTAssertEqual(stack.gatewayPorts.count, 2)
        XCTAssertEqual(stack.workers.count, 2)

        // Users, each with its own CLI home (config, token, backup_dir).
        let users = (1...5).map { "loaduser\($0)" }
        var homes: [String: String] = [:]
        // Each CLI is sent to either gateway: the token is given explicitly (a stored login
        // goes only to the URL that issued it), as a script behind two replicas would.
        var tokens: [String: String] = [:]
        for user in users {
            let password = "pw-\(user)-\(UUID().uuidString)"
            try stack.addUser(user, role: "admin", password: password)
            let home = stack.root + "/homes/\(user)"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            try stack.login(user, password: password, home: home)
            tokens[user] = try stack.token(user, password: password)
            homes[user] = home
        }
        try stack.login()  // the admin's own home takes the prepared backups

        // Prepared graphs: three to restore, then the starting graph (loaded last, so it is live).
        // Concept ids depend only on the count, so different counts give different id sets.
        let prepared = stack.root + "/prepared"
        try FileManager.default.createDirectory(atPath: prepared, withIntermediateDirectories: true)
        var graphs: [Graph] = []
        for (name, concepts, seed) in [("A", 50, UInt64(11)), ("B", 70, UInt64(12)), ("C", 80, UInt64(13)), ("start", 60, UInt64(7))] {
            try stack.loadSample(concepts: concepts, ontologies: 3, dimensions: 64, seed: seed)
            let full = prepared + "/\(name)-full.json"
            let onto = prepared + "/\(name)-ontology.json"
            let r1 = try stack.kg(["admin", "backup", "--type", "full", "--output", full])
            XCTAssertEqual(r1.exitCode, 0, r1.summary)
            let r2 = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", Self.ontology, "--output", onto])
            XCTAssertEqual(r2.exitCode, 0, r2.summary)
            let fullFile = try BackupFile(path: full), ontoFile = try BackupFile(path: onto)
            graphs.append(
                Graph(
                    name: name, concepts: concepts, fullFile: full, checksum: try stack.graphChecksum(),
                    fullConcepts: fullFile.ids("concepts", "concept_id"), fullCounts: try counts(stack, full),
                    ontologyConcepts: ontoFile.ids("concepts", "concept_id"), ontologyCounts: try counts(stack, onto)))
        }
        XCTAssertEqual(Set(graphs.map(\.fullConcepts)).count, graphs.count, "the graphs' concept sets differ")
        XCTAssertEqual(Set(graphs.map(\.ontologyConcepts)).count, graphs.count, "the graphs' ontology concept sets differ")
        let monitor = try stack.db()
        defer { monitor.close() }
        let preparedJobs = Set(try monitor.query("SELECT job_id::text AS id FROM kg_api.jobs").rows.compactMap { $0[0] })
        for home in homes.values {
            // backup_dir starts empty: every file found there later is a load backup.
            XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: home + "/data/kg/backups")) ?? [], [])
        }

        // The load: 20 backups and 5 restores, started together, spread over users and gateways.
        var specs: [(label: String, user: String, arguments: [String])] = []
        for i in 0..<20 {
            let args: [String]
            switch i % 4 {
            case 3: args = ["admin", "backup", "--type", "ontology", "--ontology", Self.ontology]
            case 1: args = ["admin", "backup", "--type", "full", "--compress", "gzip"]
            default: args = ["admin", "backup", "--type", "full"]
            }
            specs.append(("backup-\(i + 1)", users[i % users.count], args))
        }
        let restoreGraphs = [graphs[0], graphs[1], graphs[2], graphs[0], graphs[1]]
        for (j, graph) in restoreGraphs.enumerated() {
            // Interleaved with the backups so that both kinds start together.
            specs.insert(
                (
                    "restore-\(j + 1)-\(graph.name)", users[j],
                    ["admin", "restore", graph.fullFile, "--yes", "--json"]
                ), at: j * 5 + 2)
        }
        // Start just after a UTC second boundary, so that the whole submission falls within one
        // second (backup file names have second resolution: several backups of one kind by one
        // user then share a name, as they do when people script their backups).
        try prepare?(stack)
        let fraction = Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1)
        usleep(useconds_t((1.02 - fraction) * 1_000_000))
        var clients: [Client] = []
        let started = Date()
        for (n, spec) in specs.enumerated() {
            let server = "http://127.0.0.1:\(stack.gatewayPorts[n % 2])"
            let process = try stack.kgInBackground(
                spec.arguments + ["--server", server, "--token", tokens[spec.user]!],
                home: homes[spec.user]!,
                name: "cli-\(spec.label)")
            clients.append(Client(label: "\(spec.label) (\(spec.user) via :\(stack.gatewayPorts[n % 2]))", process: process))
        }
        let launchSeconds = Date().timeIntervalSince(started)
        try midLoad?(stack)

        // Wait for every CLI, sampling how many jobs run at once.
        var sampledMaxRunning = 0
        let deadline = Date().addingTimeInterval(240)
        while clients.contains(where: { $0.process.isRunning }) && Date() < deadline {
            let running = Int(try monitor.query("SELECT count(*) AS n FROM kg_api.jobs WHERE status = 'running'").first("n") ?? "0") ?? 0
            sampledMaxRunning = max(sampledMaxRunning, running)
            usleep(50_000)
        }
        let timedOut = clients.filter { $0.process.isRunning }
        for client in timedOut { client.process.killHard() }
        for client in clients { client.process.process.waitUntilExit() }
        let wall = Date().timeIntervalSince(started)

        // The job rows of the load.
        let rows = try monitor.query(
            """
            SELECT job_id::text, job_type, status, coalesce(error, ''), coalesce(result::text, '{}'),
                   extract(epoch FROM completed_at - created_at)::text,
                   extract(epoch FROM started_at)::text, extract(epoch FROM completed_at)::text, attempts::text
            FROM kg_api.jobs ORDER BY created_at
            """
        ).rows.filter { !preparedJobs.contains($0[0] ?? "") }
        struct Row { let id, type, status, error, result: String; let latency, start, end: Double?; let attempts: Int }
        let jobs = rows.map { r in
            Row(
                id: r[0] ?? "", type: r[1] ?? "", status: r[2] ?? "", error: r[3] ?? "", result: r[4] ?? "{}",
                latency: r[5].flatMap(Double.init), start: r[6].flatMap(Double.init), end: r[7].flatMap(Double.init),
                attempts: Int(r[8] ?? "0") ?? 0)
        }
        let backupJobs = jobs.filter { $0.type == "backup" }, restoreJobs = jobs.filter { $0.type == "restore" }

        // Figures first, so that they are printed even when an assertion fails.
        func percentile(_ values: [Double], _ p: Double) -> Double {
            guard !values.isEmpty else { return .nan }
            let sorted = values.sorted()
            return sorted[max(0, min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1))]
        }
        var events: [(Double, Int)] = []
        for job in jobs { if let s = job.start, let e = job.end { events += [(s, 1), (e, -1)] } }
        var running = 0, maxRunning = 0
        for event in events.sorted(by: { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }) {
            running += event.1
            maxRunning = max(maxRunning, running)
        }
        let backupLatencies = backupJobs.compactMap(\.latency), restoreLatencies = restoreJobs.compactMap(\.latency)
        let f = { (x: Double) in String(format: "%.2f", x) }
        print(
            """
            ==== kg load test: \(backupJobs.count) backups + \(restoreJobs.count) restores, \(users.count) users, \
            2 gateways, 2 workers, \(graphs.last!.concepts) concepts x 64 dims ====
            LOAD all clients started in: \(f(launchSeconds)) s
            LOAD total wall time: \(f(wall)) s
            LOAD throughput: \(f(Double(jobs.count) / wall)) jobs/s
            LOAD backup latency (created_at -> completed_at): p50 \(f(percentile(backupLatencies, 0.5))) s, \
            p95 \(f(percentile(backupLatencies, 0.95))) s, max \(f(backupLatencies.max() ?? .nan)) s
            LOAD restore latency (created_at -> completed_at): p50 \(f(percentile(restoreLatencies, 0.5))) s, \
            p95 \(f(percentile(restoreLatencies, 0.95))) s, max \(f(restoreLatencies.max() ?? .nan)) s
            LOAD max jobs running at once: \(maxRunning) (from started_at/completed_at), \(sampledMaxRunning) (sampled every 50 ms)
            ====
            """)

        // Every CLI succeeded; every job completed.
        XCTAssertEqual(timedOut.map(\.label), [], "CLIs still running after 240 s")
        for client in clients {
            XCTAssertEqual(
                client.process.process.terminationStatus, 0,
                "\(client.label) exited \(client.process.process.terminationStatus):\n\(client.process.log)")
        }
        XCTAssertEqual(backupJobs.count, 20)
        XCTAssertEqual(restoreJobs.count, 5)
        for job in jobs {
            XCTAssertEqual(job.status, "completed", "\(job.type) \(job.id): \(job.status) \(job.error)")
        }

        // Restores held the write lock one at a time.
        var intervals: [(from: String, until: String, concepts: Int, id: String)] = []
        for job in restoreJobs {
            let result = (try? JSONSerialization.jsonObject(with: Data(job.result.utf8))) as? [String: Any] ?? [:]
            guard let from = result["locked_from"] as? String, let until = result["locked_until"] as? String else {
                XCTFail("restore \(job.id) has no locked_from/locked_until: \(job.result)")
                continue
            }
            let concepts = (result["restored"] as? [String: Any])?["concepts"] as? Int ?? -1
            // Fixed-width UTC timestamps: string order is time order.
            XCTAssertLessThanOrEqual(from, until, "restore \(job.id)")
            intervals.append((from, until, concepts, job.id))
        }
        intervals.sort { $0.from < $1.from }
        for (a, b) in zip(intervals, intervals.dropFirst()) {
            XCTAssertLessThanOrEqual(a.until, b.from, "restores \(a.id) [\(a.from), \(a.until)] and \(b.id) [\(b.from), \(b.until)] overlap")
        }
        XCTAssertEqual(intervals.map(\.concepts).sorted(), restoreGraphs.map(\.concepts).sorted(), "each restore restored its file")
        // The graph now is the one restored last.
        if let last = intervals.max(by: { $0.until < $1.until }), let graph = graphs.first(where: { $0.concepts == last.concepts }) {
            XCTAssertEqual(try stack.graphChecksum(), graph.checksum, "the live graph is the last restore's (\(graph.name))")
        }

        // Every backup is whole, valid, and a snapshot of one graph that was live.
        let live = graphs  // the starting graph and every restored one
        var files: [String] = []
        for user in users {
            let dir = homes[user]! + "/data/kg/backups"
            for name in ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                XCTAssertFalse(name.hasSuffix(".partial") || name.hasPrefix("."), "\(dir)/\(name) left behind")
                // Each backup's .sha256 (issue 17) sits beside it.
                if !name.hasSuffix(".partial") && !name.hasPrefix(".") && !name.hasSuffix(".sha256") { files.append(dir + "/" + name) }
            }
        }
        XCTAssertEqual(files.count, 20, "one file per backup: \(files)")
        var seen: [String: Int] = [:]
        for path in files {
            let verify = try stack.kg(["admin", "verify", path, "--json", "--offline"])
            XCTAssertEqual(verify.exitCode, 0, "\(path): \(verify.summary)")
            let report = (try? JSONSerialization.jsonObject(with: Data(verify.stdout.utf8))) as? [String: Any] ?? [:]
            XCTAssertEqual(report["valid"] as? Bool, true, "\(path): \(verify.stdout)")
            let errors = report["errors"] as? [[String: Any]] ?? []
            XCTAssertEqual(errors.count, 0, "\(path): \(errors)")
            guard let file = try? BackupFile(path: path) else {
                XCTFail("\(path) is not readable JSON")
                continue
            }
            let isOntology = file.object["type"] as? String == "ontology_backup"
            let ids = file.ids("concepts", "concept_id")
            let fileCounts = report["counts"] as? [String: Int] ?? [:]
            let match = live.first { isOntology ? $0.ontologyConcepts == ids : $0.fullConcepts == ids }
            guard let match else {
                XCTFail("\(path): its \(ids.count) concepts are no live graph's \(isOntology ? "ontology" : "full") concept set")
                continue
            }
            XCTAssertEqual(
                fileCounts, isOntology ? match.ontologyCounts : match.fullCounts,
                "\(path): section counts of graph \(match.name)")
            seen["\(isOntology ? "ontology" : "full") of \(match.name)", default: 0] += 1
        }
        print("LOAD backups by snapshot: " + seen.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))

        // Nothing left in temp storage; every service still up.
        let tempDeadline = Date().addingTimeInterval(10)
        while !stack.tempFiles().isEmpty && Date() < tempDeadline { usleep(100_000) }
        XCTAssertEqual(stack.tempFiles(), [], "temp files left behind")
        for gateway in stack.gateways { XCTAssertTrue(gateway.isRunning, "\(gateway.name) stopped:\n\(gateway.log.suffix(3000))") }
        for worker in stack.workers.values { XCTAssertTrue(worker.isRunning, "\(worker.name) stopped:\n\(worker.log.suffix(3000))") }
        XCTAssertEqual(jobs.filter { $0.attempts > 1 }.map(\.id), [], "no job needed a second attempt")
    }

    /// The section counts `kg admin verify --json` reports for a file.
    private static func counts(_ stack: TestStack, _ path: String) throws -> [String: Int] {
        let r = try stack.kg(["admin", "verify", path, "--json", "--offline"])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return object?["counts"] as? [String: Int] ?? [:]
    }
}
