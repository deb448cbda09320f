import Foundation
import KGBroker
import KGClient
import XCTest

/// kg on a 3-node RabbitMQ cluster of the test's own (real Erlang nodes, deploy/local/cluster.sh)
/// with a quorum job queue: nodes are killed with -9 under running and queued jobs.
///
/// The default run keeps one compact test (a backup and a restore each lose their worker's
/// node). The longer ones (any node lost under queued jobs, a full restart, no majority) run
/// with `KG_CLUSTER_TESTS=1` (`make cluster`): starting nodes costs 10–40 s each time.
final class ClusterTests: XCTestCase {
    var cluster: LocalCluster?
    var stack: TestStack?

    override func tearDown() {
        stack?.stop()
        cluster?.stop()
    }

    private func startStack(workers: Int = 1, extra: [String: String] = [:]) throws -> (LocalCluster, TestStack) {
        let cluster = try LocalCluster(nodes: 3)
        self.cluster = cluster
        let environment = [
            "KG_AMQP_URLS": cluster.urls, "KG_BROKER_QUEUE_TYPE": "quorum", "KG_BROKER_HEARTBEAT": "2",
            "KG_PROGRESS_INTERVAL": "0.1",
        ].merging(extra) { _, new in new }
        let stack = try TestStack(workers: workers, environment: environment)
        self.stack = stack
        return (cluster, stack)
    }

    /// The node (1-based) the worker's job consumer is connected to now, from its log.
    private func consumerNode(_ worker: ManagedProcess, _ cluster: LocalCluster) throws -> Int {
        let lines = worker.log.split(separator: "\n").filter { $0.contains("job consumer connected to") }
        guard let line = lines.last, let at = line.range(of: "@127.0.0.1:") else {
            throw StackError("no 'job consumer connected to' line in the worker's log:\n\(worker.log.suffix(2000))")
        }
        let port = Int(line[at.upperBound...].prefix { $0.isNumber }) ?? 0
        guard let node = cluster.node(port: port) else { throw StackError("port \(port) is not a node of the cluster") }
        return node
    }

    /// Status events of one job, with the time each arrived, through the nodes other than `avoid`.
    private func recordEvents(jobID: String, cluster: LocalCluster, avoiding avoid: Int) throws -> (StatusSubscriber, EventLog) {
        let events = EventLog()
        let urls = try cluster.amqpPorts.enumerated().filter { $0.offset + 1 != avoid }
            .map { try AMQPURL("amqp://guest:guest@127.0.0.1:\($0.element)/%2f") }
        let subscriber = StatusSubscriber(
            nodes: BrokerNodes(urls, start: 0), exchange: JobTopology(prefix: stack!.prefix).statusExchange,
            bindingKeys: ["job.\(jobID).*"]
        ) { key, _ in events.add(key) }
        subscriber.start()
        XCTAssertTrue(subscriber.waitUntilConnected(timeout: 10))
        return (subscriber, events)
    }

    /// Kills the worker's node mid-job and measures the failover: from the kill to the job's next
    /// progress event.
    private func killWorkersNode(jobID: String, worker: ManagedProcess, cluster: LocalCluster) throws -> (node: Int, failover: Double) {
        let node = try consumerNode(worker, cluster)
        let (subscriber, events) = try recordEvents(jobID: jobID, cluster: cluster, avoiding: node)
        defer { subscriber.stop() }
        try stack!.waitUntil(20, "a progress event of the running job") { events.count(after: .distantPast) > 0 }
        let killedAt = Date()
        try cluster.kill(node)
        try stack!.waitUntil(60, "the job's next progress event after node \(node) was killed") {
            events.first(after: killedAt, suffix: ".progress") != nil
        }
        let next = try XCTUnwrap(events.first(after: killedAt, suffix: ".progress"))
        return (node, next.timeIntervalSince(killedAt))
    }

    func testABackupAndARestoreEachSurviveTheLossOfTheirWorkersNode() throws {
        let (cluster, stack) = try startStack(extra: ["KG_TEST_RECORD_DELAY_MS": "10"])
        try stack.loadSample(concepts: 150, ontologies: 2, dimensions: 8)
        try stack.login()
        let expected = try stack.fingerprint(.content)
        let worker = try XCTUnwrap(stack.workers["w1"])
        // /readyz and /metrics name the node the gateway publishes through and see a majority.
        let ready = try readyz(stack)
        XCTAssertEqual(ready.status, 200, "\(ready.json)")
        XCTAssertTrue(cluster.amqpPorts.map { "127.0.0.1:\($0)" }.contains(ready.json["broker_node"] as? String ?? ""), "\(ready.json)")
        XCTAssertEqual(ready.json["broker_majority"] as? Bool, true)
        XCTAssertEqual(ready.json["broker_nodes_reachable"] as? Int, 3)
        let metrics = try metricsText(stack)
        XCTAssertTrue(metrics.contains("kg_broker_majority 1"), metrics)
        XCTAssertTrue(metrics.contains("kg_broker_nodes 3"), metrics)
        XCTAssertTrue(
            metrics.contains("kg_broker_connection{component=\"job_publisher\",node=\"\(ready.json["broker_node"] as? String ?? "")\"} 1"), metrics)
        // Workers serve no HTTP: their presence events put their node in the gateway's /metrics.
        let workerNode = try consumerNode(worker, cluster)
        try stack.waitUntil(15, "worker w1's node in /metrics") { try self.workerConsumerPort(stack) == cluster.amqpPorts[workerNode - 1] }

        // A backup through the CLI; its worker's node dies while the worker writes it.
        let cli = try stack.kgInBackground(["admin", "backup", "--type", "full"], name: "cli-backup")
        var backupID: String?
        try stack.waitUntil(30, "the backup to run") {
            backupID = try stack.scalar("SELECT job_id::text FROM kg_api.jobs WHERE job_type = 'backup' AND status = 'running'")
            return backupID != nil
        }
        let backup = try killWorkersNode(jobID: try XCTUnwrap(backupID), worker: worker, cluster: cluster)
        print("cluster failover (backup): node \(backup.node) killed -9; next progress event after \(String(format: "%.2f", backup.failover)) s")
        try stack.waitUntil(20, "worker w1's new node in /metrics") {
            let port = try self.workerConsumerPort(stack)
            return port != nil && port != cluster.amqpPorts[backup.node - 1]
        }
        try stack.waitUntil(120, "the CLI's backup to end") { !cli.isRunning }
        XCTAssertEqual(cli.process.terminationStatus, 0, cli.log + stack.logs)
        let backupJob = try stack.waitForJob(try XCTUnwrap(backupID))
        XCTAssertEqual(backupJob["status"] as? String, "completed", "\(backupJob)")
        XCTAssertEqual(backupJob["attempts"] as? Int, 1, "run once: \(backupJob)")
        let file = try XCTUnwrap(stack.backupDirFiles().first.map { stack.backupDir + "/" + $0 }, cli.log)
        try cluster.start(backup.node)

        // A restore of that file over a changed graph; its worker's (new) node dies mid-load.
        try stack.execute("DELETE FROM kg.relationships WHERE relationship_id % 3 = 0; UPDATE kg.concepts SET label = 'before'")
        let (status, json) = try stack.uploadRestore(file)
        XCTAssertEqual(status, 202, "\(json)")
        let restoreID = try XCTUnwrap(json["job_id"] as? String)
        try stack.waitUntil(30, "the restore to be loading") { try stack.stage(restoreID) == "loading" }
        let restore = try killWorkersNode(jobID: restoreID, worker: worker, cluster: cluster)
        print("cluster failover (restore): node \(restore.node) killed -9; next progress event after \(String(format: "%.2f", restore.failover)) s")
        let restoreJob = try stack.waitForJob(restoreID)
        XCTAssertEqual(restoreJob["status"] as? String, "completed", "\(restoreJob)\n\(stack.logs)")
        XCTAssertEqual(restoreJob["attempts"] as? Int, 1, "run once: \(restoreJob)")
        // The backup taken across the first kill restores the graph exactly.
        try stack.assertGraph(equals: expected, "the graph after the restore is the backed-up one", scope: .content)
        XCTAssertEqual(try stack.scalar("SELECT count(*) FROM kg.concepts WHERE label = 'before'"), "0")
        // The redelivered message (its ack went down with the node) ran nothing again.
        // Each kill took the consumer's channel, so each job's message came back once: the worker
        // dropped both after reading their rows.
        try stack.waitUntil(30, "the worker to drop both redelivered messages") {
            worker.log.components(separatedBy: "dropping the redelivered message").count - 1 >= 2
        }
        XCTAssertEqual(try queuedMessages(stack, cluster), 0)
        let after = try stack.jobRow(restoreID)
        XCTAssertEqual(after["attempts"] as? Int, 1, "still run once: \(after)")
        try stack.waitUntil(10, "temp storage to be empty") { stack.tempFiles().isEmpty }
    }

    private func readyz(_ stack: TestStack) throws -> (status: Int, json: [String: Any]) {
        let r = try HTTPClient(baseURL: stack.apiURL, token: nil, connectTimeout: 2).request(method: "GET", path: "/readyz")
        return (r.status, TestStack.object(r))
    }

    private func metricsText(_ stack: TestStack) throws -> String {
        let r = try HTTPClient(baseURL: stack.apiURL, token: nil, connectTimeout: 2).request(method: "GET", path: "/metrics")
        return String(decoding: r.body, as: UTF8.self)
    }

    /// The port of the node worker w1's job consumer uses, as the gateway's /metrics shows it.
    private func workerConsumerPort(_ stack: TestStack) throws -> Int? {
        let scrape = try stack.scrapeMetrics()
        let sample = scrape.samples.first {
            $0.name == "kg_worker_broker_connection" && $0.labels["worker_id"] == "w1" && $0.labels["component"] == "job_consumer" && $0.value == 1
        }
        return sample?.labels["node"].flatMap { $0.split(separator: ":").last.flatMap { Int($0) } }
    }

    private var longTestsEnabled: Bool { ProcessInfo.processInfo.environment["KG_CLUSTER_TESTS"] == "1" }

    /// A cluster stack whose graph was backed up and then changed, with `count`
    /// restores of that backup queued while no worker runs (messages in the
    /// quorum queue only); `expected` is the graph the restores must bring back.
    private func queuedRestores(count: Int) throws
        -> (cluster: LocalCluster, stack: TestStack, expected: GraphFingerprint, ids: [String])
    {
        let (cluster, stack) = try startStack()
        try stack.loadSample(concepts: 60, ontologies: 2, dimensions: 8)
        try stack.login()
        let expected = try stack.fingerprint(.content)
        let file = try stack.backupWithCLI()
        try XCTUnwrap(stack.workers["w1"]).stop()
        try stack.execute("UPDATE kg.concepts SET label = 'before'")
        var ids: [String] = []
        for _ in 0..<count {
            let (status, json) = try stack.uploadRestore(file)
            XCTAssertEqual(status, 202, "\(json)")
            ids.append(try XCTUnwrap(json["job_id"] as? String))
        }
        return (cluster, stack, expected, ids)
    }

    func testQueuedJobsSurviveTheLossOfAnyNodeAndAFullRestart() throws {
        try XCTSkipUnless(longTestsEnabled, "set KG_CLUSTER_TESTS=1 (make cluster) to run the long cluster tests")
        let (cluster, stack, expected, ids) = try queuedRestores(count: 3)
        try stack.waitUntil(10, "three messages in the job queue") { try self.queuedMessages(stack, cluster) == 3 }
        for node in 1...3 {
            try cluster.kill(node)
            try stack.waitUntil(60, "the queue to answer with node \(node) down") { try self.queuedMessages(stack, cluster) == 3 }
            try cluster.start(node)
        }
        // Every node at once, then all back.
        for node in 1...3 { try cluster.kill(node) }
        try cluster.start([1, 2, 3])
        try stack.waitUntil(120, "the queue to answer after a full restart") { try self.queuedMessages(stack, cluster) == 3 }
        try stack.waitUntil(60, "/readyz to be ready again") { try self.readyz(stack).status == 200 }
        try stack.startWorker("w2")
        for id in ids {
            let job = try stack.waitForJob(id, timeout: 180)
            XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
            XCTAssertEqual(job["attempts"] as? Int, 1, "\(job)")
        }
        try stack.assertGraph(equals: expected, "the queued restores ran, each once", scope: .content)
        try stack.waitUntil(10, "temp storage to be empty") { stack.tempFiles().isEmpty }
    }

    func testWithoutAMajorityNewJobsGet503AndQueuedOnesCompleteWhenItReturns() throws {
        try XCTSkipUnless(longTestsEnabled, "set KG_CLUSTER_TESTS=1 (make cluster) to run the long cluster tests")
        let (cluster, stack, expected, queuedIDs) = try queuedRestores(count: 1)
        let queued = queuedIDs[0]
        try cluster.kill(1)
        try cluster.kill(2)
        try stack.waitUntil(20, "/readyz to say there is no majority") {
            let r = try self.readyz(stack)
            return r.status == 503 && r.json["broker_majority"] as? Bool == false
        }
        XCTAssertEqual(try readyz(stack).json["broker_nodes_reachable"] as? Int, 1)
        XCTAssertTrue(try metricsText(stack).contains("kg_broker_majority 0"))
        let started = Date()
        let refused = try stack.adminCall("POST", "/admin/backup", json: #"{"backup_type":"full"}"#)
        XCTAssertEqual(refused.status, 503, "\(refused.json)")
        let message = "\(refused.json)"
        XCTAssertTrue(message.contains("no majority") && message.contains("1 of 3"), message)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "refused at once, not after the publish deadline")
        // A worker started now finds only the minority node: the queued job waits.
        try stack.startWorker("w2")
        sleep(3)
        XCTAssertEqual(try stack.jobRow(queued)["status"] as? String, "queued")
        try cluster.start(1)
        let job = try stack.waitForJob(queued, timeout: 180)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        XCTAssertEqual(job["attempts"] as? Int, 1, "\(job)")
        try stack.assertGraph(equals: expected, "the queued restore ran once the majority returned", scope: .content)
        try stack.waitUntil(60, "/readyz to be ready again") { try self.readyz(stack).status == 200 }
        try stack.waitUntil(10, "temp storage to be empty") { stack.tempFiles().isEmpty }
    }

    /// The load test (5 users, 20 backups and 5 restores, 2 gateways, 2 workers) on the cluster,
    /// with the node that leads the job queue killed (-9) while jobs run: publishes in flight are
    /// nacked until a new leader is elected, and must be published again, not failed.
    func testTheLoadTestPassesWithANodeKilledInTheMiddle() throws {
        try XCTSkipUnless(longTestsEnabled, "set KG_CLUSTER_TESTS=1 (make cluster) to run the long cluster tests")
        let cluster = try LocalCluster(nodes: 3)
        self.cluster = cluster
        var leader = 0
        var killed: Int?
        try LoadTests.runLoad(
            environment: [
                "KG_AMQP_URLS": cluster.urls, "KG_BROKER_QUEUE_TYPE": "quorum",
                "KG_BROKER_HEARTBEAT": "2",
            ],
            prepare: { stack in leader = try cluster.leader(of: JobTopology(prefix: stack.prefix).jobQueue) },
            midLoad: { _ in
                try cluster.kill(leader)
                killed = leader
            })
        XCTAssertNotNil(killed, "the leader's node was killed while jobs ran")
        print("cluster load: killed node \(killed ?? 0), the job queue's leader")
    }

    /// Ready messages of the job queue, asked of any live node.
    private func queuedMessages(_ stack: TestStack, _ cluster: LocalCluster) throws -> Int {
        let urls = try cluster.urls.split(separator: ",").map { try AMQPURL(String($0)) }
        let connection = try BrokerNodes(urls, start: 0).connect { try AMQPConnection(url: $0, heartbeatSeconds: 0) }
        defer { connection.close() }
        return try connection.inspectQueue(JobTopology(prefix: stack.prefix).jobQueue).messages
    }
}
