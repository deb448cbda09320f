import KGTestSupport
import Foundation
import KGClient
import KGDatabase
import XCTest

/// The chaos run (issue 11): several users submit backups, merges, prunes,
/// stitches, ontology deletes and cancels at random against 2 gateways and 3
/// workers, while the run kills workers with -9, freezes and thaws them
/// (SIGSTOP/SIGCONT), and restarts RabbitMQ and PostgreSQL. At the end
/// ``ChaosInvariants`` reads the graph and the job table: every completed job's
/// effect is present, every failed or cancelled job's effect absent, no job is
/// left queued or running, the graph's integrity holds, and no temp file
/// outlives its job. It prints `jobs=… faults=… violations=0`.
///
/// Bounded for CI (`KG_CHAOS_SECONDS`, default 60 s of faults); `make chaos`
/// runs it longer. The seed is printed (`KG_CHAOS_SEED` replays a run's choices).
final class ChaosTests: XCTestCase {
    var stack: TestStack!
    var services: PrivateServices?

    override func tearDown() {
        stack?.stop()
        services?.stop()
    }

    func testChaos() throws {
        let env = ProcessInfo.processInfo.environment
        let seconds = Double(env["KG_CHAOS_SECONDS"] ?? "") ?? 60
        let seed = UInt64(env["KG_CHAOS_SEED"] ?? "") ?? UInt64.random(in: 1...999_999)
        print("chaos: seed \(seed), \(Int(seconds)) s of faults (KG_CHAOS_SEED=\(seed) replays the choices)")
        var random = SeededGenerator(seed: seed)

        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(
            workers: 3, gateways: 2,
            environment: [
                "KG_BROKER_HEARTBEAT": "2", "KG_JANITOR_INTERVAL": "1", "KG_MAX_JOBS_PER_USER": "0", "KG_MAX_ATTEMPTS": "4",
                "KG_UPLOAD_IDLE_TIMEOUT": "5",
            ], services: services)
        try stack.loadSample(concepts: 60, ontologies: 5, dimensions: 8)
        try stack.login()
        let world = try ChaosWorld.prepare(stack)
        let users =
            ["admin"]
            + (try ["chaos1", "chaos2"].map { name -> String in
                try stack.addUser(name, role: "admin", password: "pw-\(name)")
                return name
            })
        var tokens: [String: String] = [:]
        for user in users { tokens[user] = try stack.token(user, password: user == "admin" ? nil : "pw-\(user)") }

        var jobs: [ChaosJob] = []
        var backups: [(process: ManagedProcess, output: String)] = []
        var faults: [String: Int] = [:]
        var refused = 0
        var stopped: [String: Date] = [:]
        var killed: [String: Date] = [:]
        var brokerDown: Date?
        var nextFault = Date().addingTimeInterval(3)
        let end = Date().addingTimeInterval(seconds)
        // A new connection each time: PostgreSQL restarts during the run.
        func active() -> Int {
            guard let db = try? stack.db() else { return 99 }
            defer { db.close() }
            return Int((try? db.query("SELECT count(*) FROM kg_api.jobs WHERE status IN ('queued', 'running')").rows.first?.first ?? nil) ?? "99")
                ?? 99
        }

        while Date() < end {
            // Work: up to 6 jobs in flight, at random.
            if active() < 6 {
                let user = users[random.below(users.count)]
                let gateway = "http://127.0.0.1:\(stack.gatewayPorts[random.below(stack.gatewayPorts.count)])"
                let client = HTTPClient(baseURL: gateway, token: tokens[user], connectTimeout: 2)
                let kind = ChaosJob.Kind.allCases[random.below(ChaosJob.Kind.allCases.count)]
                do {
                    if kind == .backup {
                        let output = "\(stack.root)/chaos-backup-\(backups.count).json"
                        backups.append(
                            (
                                try stack.kgInBackground(
                                    ["admin", "backup", "--type", "full", "--output", output],
                                    name: "chaos-backup-\(backups.count)"), output
                            ))
                    } else if let job = try world.submit(kind, client: client, random: &random) {
                        jobs.append(job)
                    } else {
                        refused += 1
                    }
                } catch {
                    refused += 1  // a gateway or the broker away: refused, nothing queued
                }
            }
            // Cancels of running or queued jobs, now and then.
            if random.below(8) == 0, !jobs.isEmpty, let victim = Optional(jobs[max(0, jobs.count - 1 - random.below(4))]) {
                let client = HTTPClient(baseURL: stack.apiURL, token: tokens["admin"], connectTimeout: 2)
                if let r = try? client.request(method: "DELETE", path: "/jobs/\(victim.id)"), r.status == 200 {
                    faults["cancel", default: 0] += 1
                }
            }
            // Faults.
            for (id, since) in stopped where Date().timeIntervalSince(since) > 6 {
                stack.workers[id]?.signal(SIGCONT)
                stopped[id] = nil
            }
            for (id, since) in killed where Date().timeIntervalSince(since) > 1.5 {
                try stack.startWorker(id)
                killed[id] = nil
            }
            if let since = brokerDown, Date().timeIntervalSince(since) > 3 {
                try services.run("rabbitmq-start")
                brokerDown = nil
            }
            if Date() > nextFault {
                nextFault = Date().addingTimeInterval(3 + Double(random.below(40)) / 10)
                let workerIDs = stack.workers.keys.sorted().filter { stopped[$0] == nil && killed[$0] == nil }
                switch random.below(10) {
                case 0...3 where !workerIDs.isEmpty:
                    let id = workerIDs[random.below(workerIDs.count)]
                    stack.workers[id]?.killHard()
                    killed[id] = Date()
                    faults["kill -9 worker", default: 0] += 1
                case 4...6 where !workerIDs.isEmpty:
                    let id = workerIDs[random.below(workerIDs.count)]
                    stack.workers[id]?.signal(SIGSTOP)
                    stopped[id] = Date()
                    faults["SIGSTOP worker", default: 0] += 1
                case 7 where brokerDown == nil && (faults["restart RabbitMQ"] ?? 0) < 3:
                    try services.run("rabbitmq-stop")
                    brokerDown = Date()
                    faults["restart RabbitMQ", default: 0] += 1
                case 8 where (faults["restart PostgreSQL"] ?? 0) < 3:
                    try services.run("postgres-restart")
                    faults["restart PostgreSQL", default: 0] += 1
                default:
                    break
                }
            }
            usleep(300_000)
        }
        // Every fault healed: the system must now finish all it accepted.
        for id in stopped.keys { stack.workers[id]?.signal(SIGCONT) }
        for id in killed.keys { try stack.startWorker(id) }
        if brokerDown != nil { try services.run("rabbitmq-start") }
        for backup in backups { backup.process.process.waitUntilExit() }
        let drained = try waitForNoActiveJobs(timeout: 300)
        let checker = ChaosInvariants(stack: stack, world: world, jobs: jobs, backups: backups)
        var violations = try checker.check()
        if !drained { violations.insert("jobs still queued or running 300 s after the faults ended", at: 0) }
        let statuses = try checker.statusCounts()
        let faultCount = faults.values.reduce(0, +)
        print(
            "chaos: faults \(faults.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")); "
                + "refused submissions \(refused); jobs \(statuses.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
        )
        print("jobs=\(jobs.count + backups.count) faults=\(faultCount) violations=\(violations.count)")
        for violation in violations { print("chaos violation: \(violation)") }
        XCTAssertEqual(violations, [], "seed \(seed)\n\(stack.logs.suffix(20_000))")
        XCTAssertGreaterThan(jobs.count, 5, "the run submitted work")
        XCTAssertGreaterThan(faultCount, 3, "the run injected faults")
    }

    private func waitForNoActiveJobs(timeout: Double) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let db = try? stack.db()
            let n = try? db?.query("SELECT count(*) FROM kg_api.jobs WHERE status IN ('queued', 'running')").rows.first?.first ?? nil
            db?.close()
            if n == "0" { return true }
            usleep(500_000)
        }
        return false
    }
}
