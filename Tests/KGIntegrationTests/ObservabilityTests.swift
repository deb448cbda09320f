import Foundation
import KGBroker
import KGClient
import KGTestSupport
import XCTest

/// `/metrics`, structured job logs and secret masking, against the real
/// gateway, workers, PostgreSQL and RabbitMQ.
final class ObservabilityTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func testMetricsCountARealBackupAndRestore() throws {
        // Two replicas: the CLI talks to the first; the second only answers scrapes. The jobs
        // below take less than metrics_cache_s (5 s): read the jobs table at every scrape
        // (the cache has its own test, MetricsCacheTests).
        stack = try TestStack(gateways: 2, environment: ["KG_METRICS_CACHE": "0"])
        try stack.loadSample(concepts: 30, ontologies: 2, dimensions: 8)
        try stack.login()
        let before = try stack.scrapeMetrics()
        XCTAssertEqual(before.problems, [], before.text)
        XCTAssertEqual(before.types["kg_jobs"], "gauge")
        XCTAssertEqual(before.types["kg_job_duration_seconds"], "histogram")
        XCTAssertEqual(before.types["kg_bytes_streamed_total"], "counter")
        XCTAssertEqual(before.value("kg_dependency_up", ["dependency": "database"]), 1)
        XCTAssertEqual(before.value("kg_dependency_up", ["dependency": "broker"]), 1)
        XCTAssertEqual(before.value("kg_queue_consumers", ["queue": "\(stack.prefix).jobs.work"]), 2, "two workers consume the job queue")
        XCTAssertEqual(before.value("kg_queue_messages", ["queue": "\(stack.prefix).jobs.work"]), 0)

        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary)
        let file = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let size = Double(try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int))
        let restore = try stack.kg(["admin", "restore", file, "--yes"])
        XCTAssertEqual(restore.exitCode, 0, restore.summary)
        let restoreSeconds = try assertJobEndsAfterItsCommit(restoreJobID: restore.stdout)
        // A restore that fails inside the worker is rolled back: an ontology backup whose
        // concepts' neighbours are missing, restored with --external-deps fail into an empty graph.
        let ontology = try stack.kg(["admin", "backup", "--type", "ontology", "--ontology", "Philosophy of Mind"])
        XCTAssertEqual(ontology.exitCode, 0, ontology.summary)
        let ontologyFile = ontology.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let ontologySize = Double(try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: ontologyFile)[.size] as? Int))
        try stack.wipeGraph()
        let failed = try stack.kg(["admin", "restore", ontologyFile, "--yes", "--external-deps", "fail"])
        XCTAssertEqual(failed.exitCode, 1, failed.summary)

        let after = try stack.scrapeMetrics()
        XCTAssertEqual(after.problems, [], after.text)
        func delta(_ name: String, _ labels: [String: String]) -> Double { after.value(name, labels) - before.value(name, labels) }

        XCTAssertEqual(delta("kg_jobs", ["job_type": "backup", "status": "completed"]), 2, after.text)
        XCTAssertEqual(delta("kg_jobs", ["job_type": "restore", "status": "completed"]), 1, after.text)
        XCTAssertEqual(delta("kg_jobs", ["job_type": "restore", "status": "failed"]), 1, after.text)
        XCTAssertEqual(delta("kg_restore_rollbacks", ["status": "failed"]), 1, after.text)
        XCTAssertEqual(delta("kg_job_duration_seconds_count", ["job_type": "backup", "status": "completed"]), 2, after.text)
        XCTAssertEqual(delta("kg_job_duration_seconds_count", ["job_type": "restore", "status": "completed"]), 1, after.text)
        XCTAssertEqual(after.value("kg_job_duration_seconds_bucket", ["job_type": "backup", "status": "completed", "le": "+Inf"]), 2)
        // Buckets are cumulative and end at the count.
        let buckets = after.samples.filter {
            $0.name == "kg_job_duration_seconds_bucket" && $0.labels["job_type"] == "backup"
                && $0.labels["status"] == "completed"
        }.map(\.value)
        XCTAssertEqual(buckets, buckets.sorted(), "cumulative buckets never go down")
        XCTAssertGreaterThan(after.value("kg_job_duration_seconds_sum", ["job_type": "backup", "status": "completed"]), 0)
        XCTAssertGreaterThanOrEqual(
            delta("kg_job_duration_seconds_sum", ["job_type": "restore", "status": "completed"]), restoreSeconds,
            "a restore's duration runs to its commit, not to the start of its transaction")

        // Bytes through this gateway: every byte of both backups out; the restore uploads in (the CLI's are resumable
        // uploads, the file's bytes only; a multipart upload would add its framing).
        XCTAssertEqual(delta("kg_bytes_streamed_total", ["direction": "out", "stream": "backup"]), size + ontologySize, after.text)
        let bytesIn = delta("kg_bytes_streamed_total", ["direction": "in", "stream": "restore"])
        XCTAssertGreaterThanOrEqual(bytesIn, size + ontologySize)
        XCTAssertLessThan(bytesIn, size + ontologySize + 4096, "at most framing on top of the files")

        // Requests by matched route, never by raw path.
        XCTAssertGreaterThanOrEqual(delta("kg_http_requests_total", ["route": "/admin/backup", "method": "POST", "status": "200"]), 2)
        // The CLI's restores: the last range of each resumable upload is answered 202 (issue 18).
        XCTAssertGreaterThanOrEqual(
            delta("kg_http_requests_total", ["route": "/admin/restore/uploads/{id}", "method": "PATCH", "status": "202"]), 2, after.text)
        XCTAssertTrue(after.samples.contains { $0.name == "kg_http_requests_total" && $0.labels["route"] == "/jobs/{id}/events" }, after.text)
        XCTAssertFalse(
            after.samples.contains { $0.labels["route"]?.contains("-") == true && $0.labels["route"]?.hasPrefix("/jobs/") == true },
            "no series per job id")

        // The other replica reports the same shared truth, and none of the first one's traffic.
        let replica = try stack.scrapeMetrics(1)
        XCTAssertEqual(replica.problems, [], replica.text)
        for sample in after.samples where ["kg_jobs", "kg_restore_rollbacks", "kg_job_duration_seconds_count"].contains(sample.name) {
            XCTAssertEqual(replica.value(sample.name, sample.labels), sample.value, "\(sample.name) \(sample.labels) differs between replicas")
        }
        XCTAssertEqual(replica.value("kg_bytes_streamed_total", ["direction": "out", "stream": "backup"]), 0)
        XCTAssertEqual(replica.value("kg_bytes_streamed_total", ["direction": "in", "stream": "restore"]), 0)

        // Temp storage drains once the jobs are done (cached for up to 5 s).
        try stack.waitUntil(20, "temp storage to be empty in the metrics") {
            let now = try self.stack.scrapeMetrics()
            return now.value("kg_temp_storage_files") == 0 && now.value("kg_temp_storage_bytes") == 0
        }
    }

    /// A restore marks its job completed inside the transaction that applied it: the job's
    /// `completed_at` (the CLI's "finished", the duration histogram) must still be the moment
    /// it ended, not the start of that transaction. `locked_until` is the database's clock
    /// read just before the commit. Returns the job's duration in seconds.
    private func assertJobEndsAfterItsCommit(restoreJobID stdout: String, file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        let id = try XCTUnwrap(stdout.split(separator: "\n").last.map(String.init), file: file, line: line)
        let lockedUntil = try XCTUnwrap(
            stack.scalar("SELECT result->>'locked_until' FROM kg_api.jobs WHERE job_id = $1::uuid", [id]), file: file, line: line)
        let after = try stack.scalar(
            "SELECT completed_at >= $2::timestamptz FROM kg_api.jobs WHERE job_id = $1::uuid", [id, lockedUntil])
        let completed = try stack.scalar("SELECT completed_at::text FROM kg_api.jobs WHERE job_id = $1::uuid", [id]) ?? "-"
        XCTAssertEqual(after, "t", "completed_at \(completed) precedes the commit (\(lockedUntil))", file: file, line: line)
        let seconds = try stack.scalar(
            "SELECT extract(epoch FROM completed_at - started_at)::float8 FROM kg_api.jobs WHERE job_id = $1::uuid", [id])
        return try XCTUnwrap(seconds.flatMap(Double.init), file: file, line: line)
    }

    /// Workers serve no HTTP: their presence events (every 5 s on the status exchange) put
    /// the broker node of each worker's connections in every gateway's /metrics (issue 19).
    /// A worker that stops says so and leaves at once; one killed leaves after three silent
    /// intervals.
    func testEachWorkersBrokerNodeShowsInTheGatewaysMetrics() throws {
        stack = try TestStack(workers: 2)
        let url = try AMQPURL(stack.amqpURL)
        let node = url.node
        for id in ["w1", "w2"] {
            try stack.waitUntil(15, "worker \(id)'s node in /metrics") {
                let scrape = try self.stack.scrapeMetrics()
                return ["job_consumer", "status_publisher"].allSatisfy {
                    scrape.value("kg_worker_broker_connection", ["worker_id": id, "component": $0, "node": node]) == 1
                }
            }
        }
        XCTAssertEqual(try stack.scrapeMetrics().value("kg_workers_present"), 2)
        try XCTUnwrap(stack.workers["w2"]).stop()
        try stack.waitUntil(5, "a stopped worker to leave /metrics") { try self.stack.scrapeMetrics().value("kg_workers_present") == 1 }
        let scrape = try stack.scrapeMetrics()
        XCTAssertEqual(
            scrape.value("kg_worker_broker_connection", ["worker_id": "w2", "component": "job_consumer", "node": node]), 0,
            "gone: \(scrape.text)")
        let killed = Date()
        try XCTUnwrap(stack.workers["w1"]).killHard()
        try stack.waitUntil(30, "a killed worker to leave /metrics") { try self.stack.scrapeMetrics().value("kg_workers_present") == 0 }
        print("ObservabilityTests: a killed worker left /metrics after \(String(format: "%.1f", Date().timeIntervalSince(killed))) s")
    }

    func testQueueDepthAndTempStorageShowWaitingWork() throws {
        // No worker: a backup's job waits in the queue.
        stack = try TestStack(workers: 0)
        try stack.loadSample(concepts: 10, ontologies: 1, dimensions: 4)
        let client = HTTPClient(baseURL: stack.apiURL, token: try stack.token(), requestTimeout: 3)
        _ = try? client.request(method: "POST", path: "/admin/backup", json: Data(#"{"backup_type":"full"}"#.utf8))
        try stack.waitUntil(20, "the job to show in the queue depth") {
            let scrape = try self.stack.scrapeMetrics()
            return scrape.value("kg_queue_messages", ["queue": "\(self.stack.prefix).jobs.work"]) == 1
                && scrape.value("kg_queue_consumers", ["queue": "\(self.stack.prefix).jobs.work"]) == 0
        }
        // Temp storage in use: a file the test puts there is counted (after the 5 s cache).
        try Data(repeating: 7, count: 12_345).write(to: URL(fileURLWithPath: stack.tempDir + "/metrics_probe.bin"))
        try stack.waitUntil(20, "the temp file to be counted") {
            try self.stack.scrapeMetrics().value("kg_temp_storage_bytes") >= 12_345
        }
    }

    func testJobLogLinesCarryJobIDAndUser() throws {
        stack = try TestStack(workers: 1)
        try stack.loadSample(concepts: 20, ontologies: 2, dimensions: 4)
        try stack.login()
        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary)
        let restore = try stack.kg(["admin", "restore", backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "--yes"])
        XCTAssertEqual(restore.exitCode, 0, restore.summary)
        let restoreID = restore.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let backupID = try XCTUnwrap(
            try stack.db().query(
                "SELECT job_id::text AS id FROM kg_api.jobs WHERE job_type = 'backup'"
            ).first("id"))

        let worker = try XCTUnwrap(stack.workers["w1"]).log
        let gateway = try XCTUnwrap(stack.gateways.first).log
        for id in [backupID, restoreID] {
            let workerLines = worker.split(separator: "\n").filter { $0.contains("job_id=\(id)") }
            XCTAssertGreaterThanOrEqual(workerLines.count, 2, "job started and job completed: \(worker)")
            XCTAssertTrue(workerLines.contains { $0.contains("job started") }, worker)
            XCTAssertTrue(workerLines.contains { $0.contains("job completed") }, worker)
            for line in workerLines { XCTAssertTrue(line.contains("user=admin"), "worker line without the user: \(line)") }
            // Lines that name the job any other way carry its metadata too.
            for line in worker.split(separator: "\n") where line.contains(id) {
                XCTAssertTrue(line.contains("job_id=\(id)") && line.contains("user=admin"), "line without metadata: \(line)")
            }
            let gatewayLines = gateway.split(separator: "\n").filter { $0.contains("job_id=\(id)") }
            XCTAssertFalse(gatewayLines.isEmpty, gateway)
            for line in gatewayLines { XCTAssertTrue(line.contains("user=admin"), "gateway line without the user: \(line)") }
        }
    }

    func testSecretsNeverReachTheLogs() throws {
        stack = try TestStack(workers: 1)
        let secret = "hunter2-\(UUID().uuidString.prefix(8))"
        // PostgreSQL trusts loopback here, so a password in the URL is accepted and ignored: a worker runs with it.
        var components = try XCTUnwrap(URLComponents(string: stack.databaseURL))
        components.password = secret
        let withPassword = try XCTUnwrap(components.string)
        var env = stack.serviceEnvironment(workerID: "w-secret")
        env["KG_DATABASE_URL"] = withPassword
        env["KG_LOG_LEVEL"] = "debug"
        let worker = try ManagedProcess(
            name: "worker-secret", executable: stack.binDir + "/kg-worker", arguments: ["run"],
            environment: env, logDir: stack.root + "/logs")
        defer { worker.stop() }
        try stack.waitUntil(20, "the worker to start") { worker.log.contains("worker started") }
        XCTAssertTrue(worker.log.contains("***"), "the database URL is logged with its password masked: \(worker.log)")
        XCTAssertFalse(worker.log.contains(secret), worker.log)

        // A gateway that cannot reach its database says where, without the password.
        var gatewayEnv = ["KG_DATABASE_URL": "postgresql://kg:\(secret)@127.0.0.1:\(freePort())/kg"]
        gatewayEnv["KG_LOG_LEVEL"] = "trace"
        let refused = try stack.gatewayStartFailure(environment: gatewayEnv)
        XCTAssertNotEqual(refused.exitCode, 0)
        XCTAssertTrue(refused.stderr.contains("127.0.0.1"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains(secret), refused.stderr)

        // The first admin's password and the broker's are in no log of the stack either.
        for process in stack.gateways + Array(stack.workers.values) {
            XCTAssertFalse(process.log.contains(stack.adminPassword), "\(process.name) logged the admin password")
            XCTAssertFalse(process.log.contains("guest:guest"), "\(process.name) logged the broker password")
        }
    }

    func testUnknownLogLevelIsAClearStartupError() throws {
        stack = try TestStack(workers: 0)
        let badLevel = try stack.gatewayStartFailure(environment: ["KG_LOG_LEVEL": "loud"])
        XCTAssertNotEqual(badLevel.exitCode, 0)
        XCTAssertTrue(badLevel.stderr.contains("log_level") && badLevel.stderr.contains("loud"), badLevel.stderr)
        let badComponent = try stack.gatewayStartFailure(environment: ["KG_LOG_LEVELS": "brokr=debug"])
        XCTAssertNotEqual(badComponent.exitCode, 0)
        XCTAssertTrue(badComponent.stderr.contains("brokr"), badComponent.stderr)
    }
}
