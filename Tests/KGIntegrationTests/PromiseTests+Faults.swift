import Foundation
import KGDatabase
import XCTest

/// Promised behaviour under faults: services restarted (``PrivateServices``),
/// processes signalled, clients that leave, temp storage that fills.
extension PromiseTests {
    // MARK: 2. PostgreSQL restarted mid-prune

    /// A prune held mid-operation by a row lock when PostgreSQL restarts: right after,
    /// the graph is exactly as before (the transaction died with the server); the worker
    /// hands the job back, the retry prunes, and the graph is exactly the pruned one.
    func testADatabaseRestartMidPruneLeavesTheGraphBeforeThenAfter() throws {
        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(workers: 2, services: services)
        try stack.loadSample(concepts: 30, ontologies: 2, dimensions: 4)
        try stack.login()
        let clean = try stack.kg(["admin", "prune", "--no-checkpoint"])
        XCTAssertEqual(clean.exitCode, 0, clean.summary)
        let pruned = try stack.fingerprint()
        try stack.addPrunableRows()
        let before = try stack.fingerprint()
        let blocker = try RowLockBlocker(stack, "SELECT 1 FROM kg.instances WHERE instance_id = 'orphan_instance' FOR UPDATE")
        defer { blocker.release() }
        let (status, accepted) = try stack.adminCall("POST", "/admin/prune", json: "{}")
        XCTAssertEqual(status, 202, "\(accepted)")
        let id = try XCTUnwrap(accepted["job_id"] as? String)
        try stack.waitUntil(60, "the prune to block mid-operation") { try stack.dataSessionWaitsForALock(id) }
        XCTAssertEqual(try stack.stage(id), "pruning")
        XCTAssertEqual(try stack.jobRow(id)["attempts"] as? Int, 1)

        try services.run("postgres-restart")
        try stack.assertGraph(equals: before, "right after the restart: the prune's transaction died with the server")
        let job = try stack.waitForJob(id, timeout: 120)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        XCTAssertEqual(job["attempts"] as? Int, 2, "run again after the restart: \(job)")
        let removed = (job["result"] as? [String: Any])?["removed"] as? [String: Int]
        XCTAssertEqual(removed, ["instances": 1, "relationships": 1, "concepts": 1], "\(job)")
        try stack.assertGraph(equals: pruned, "after the retry the graph is exactly the pruned one")
        try stack.waitUntil(20, "no temp file left (the dead attempt's checkpoint discarded)") { stack.tempFiles().isEmpty }
    }

    // MARK: 4. A client leaving mid-backup

    /// `kg admin backup` killed (SIGKILL: it can tell nobody) while the backup streams: the
    /// gateway's next write fails, the job becomes `cancelled`, the worker stops before the
    /// end, and temp storage is empty.
    func testAClientLeavingMidBackupCancelsItAndLeavesNoTempFile() throws {
        stack = try TestStack(workers: 1, environment: ["KG_TEST_RECORD_DELAY_MS": "20"])
        try stack.loadSample(concepts: 200, ontologies: 2, dimensions: 512)
        try stack.login()
        let cli = try stack.kgInBackground(["admin", "backup", "--type", "full"], name: "leaving-cli")
        var id = ""
        try stack.waitUntil(60, "the backup to reach the client") {
            id = try stack.scalar("SELECT job_id::text FROM kg_api.jobs WHERE job_type = 'backup' AND status = 'running'") ?? ""
            let partial = stack.backupDirFiles().first { $0.hasSuffix(".partial") }
            let size = partial.flatMap { try? FileManager.default.attributesOfItem(atPath: stack.backupDir + "/" + $0)[.size] as? Int } ?? 0
            return !id.isEmpty && size > 0
        }
        cli.killHard()
        let percent = (try stack.jobRow(id)["progress"] as? [String: Any])?["percent"] as? Double ?? 100
        XCTAssertNotEqual(try stack.jobRow(id)["status"] as? String, "completed", "the client left mid-backup")
        let job = try stack.waitForJob(id, timeout: 60)
        XCTAssertEqual(job["status"] as? String, "cancelled", "\(job)\n\(stack.logs)")
        XCTAssertTrue((job["error"] as? String ?? "").contains("the client disconnected during the download"), "\(job)")
        let last = (job["progress"] as? [String: Any])?["percent"] as? Double ?? 100
        XCTAssertLessThan(last, 100, "the worker stopped before the end (at \(percent)% when the client left)")
        print("PromiseTests: the client left at \(percent)%; the worker stopped at \(last)%")
        try stack.waitUntil(20, "temp storage to be empty") { stack.tempFiles().isEmpty }
    }

    // MARK: 5. Graceful stops

    /// SIGTERM to the gateway while a backup streams through it: the download completes
    /// (a valid file in backup_dir), then the gateway exits.
    func testTheGatewayDrainsADownloadInFlightOnSIGTERM() throws {
        stack = try TestStack(workers: 1, environment: ["KG_TEST_RECORD_DELAY_MS": "10"])
        try stack.loadSample(concepts: 60, dimensions: 8)
        try stack.login()
        let cli = try stack.kgInBackground(["admin", "backup", "--type", "full"], name: "draining-cli")
        var id = ""
        try stack.waitUntil(60, "the backup to stream") {
            let row = try stack.db().query("SELECT job_id::text AS id, (progress->>'percent')::float AS p FROM kg_api.jobs WHERE status = 'running'")
            id = row.first("id") ?? ""
            return Double(row.first("p") ?? "0") ?? 0 > 10
        }
        let gateway = stack.gateways[0]
        gateway.signal(SIGTERM)
        XCTAssertEqual(try stack.jobRow(id)["status"] as? String, "running", "SIGTERM came mid-download")
        try stack.waitUntil(120, "the CLI to finish") { !cli.isRunning }
        XCTAssertEqual(cli.process.terminationStatus, 0, cli.log + stack.logs)
        let saved = stack.backupDirFiles().filter { !$0.hasSuffix(".sha256") }  // its digest sits beside it (issue 17)
        XCTAssertEqual(saved.count, 1, "\(stack.backupDirFiles())")
        XCTAssertTrue(saved.first?.hasPrefix("full_backup_") == true && saved.first?.hasSuffix(".json") == true, "\(saved)")
        let verify = try stack.kg(["admin", "verify", stack.backupDir + "/" + (saved.first ?? "")])
        XCTAssertEqual(verify.exitCode, 0, verify.summary)
        XCTAssertEqual(try stack.jobRow(id)["status"] as? String, "completed")
        try stack.waitUntil(30, "the gateway to exit") { !gateway.isRunning }
        XCTAssertEqual(gateway.process.terminationStatus, 0, gateway.log)
    }

    /// SIGTERM to a worker in the middle of a restore with `shutdown_grace_s` to spare: it
    /// takes no new job, finishes this one itself (one attempt, its id on the row), then exits.
    func testAWorkerFinishesItsJobWithinItsShutdownGrace() throws {
        stack = try TestStack(workers: 2, environment: ["KG_TEST_RECORD_DELAY_MS": "8", "KG_SHUTDOWN_GRACE": "60"])
        try stack.loadSample(concepts: 50, dimensions: 8)
        try stack.login()
        let file = try stack.backupWithCLI()
        let backedUp = try stack.fingerprint(.content)
        try stack.execute("UPDATE kg.concepts SET label = 'before'")
        let (status, json) = try stack.uploadRestore(file)
        XCTAssertEqual(status, 202, "\(json)")
        let id = try XCTUnwrap(json["job_id"] as? String)
        try stack.waitUntil(60, "the restore to load") { try stack.stage(id) == "loading" }
        let holder = try XCTUnwrap(try stack.scalar("SELECT worker_id FROM kg_api.jobs WHERE job_id = $1::uuid", [id]))
        let worker = try XCTUnwrap(stack.workers[holder])
        worker.signal(SIGTERM)
        let job = try stack.waitForJob(id, timeout: 120)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        XCTAssertEqual(job["attempts"] as? Int, 1, "finished by the worker it started on, not handed back")
        XCTAssertEqual(try stack.scalar("SELECT worker_id FROM kg_api.jobs WHERE job_id = $1::uuid", [id]), holder)
        try stack.waitUntil(30, "the stopped worker to exit") { !worker.isRunning }
        XCTAssertEqual(worker.process.terminationStatus, 0, worker.log)
        XCTAssertTrue(worker.log.contains("worker stopped"), worker.log)
        XCTAssertFalse(worker.log.contains("handing it back"), worker.log)
        try stack.assertGraph(equals: backedUp, "the restore's graph is the backup's", scope: .content)
        XCTAssertEqual(stack.tempFiles(), [])
    }

    // MARK: 6. Lost status events

    /// RabbitMQ is stopped while `kg admin restore` follows its job, which is held mid-
    /// operation by a row lock; the job then completes while the broker is still away, so
    /// its terminal event is never published. The CLI sees the end through the polled job row.
    func testTheCLISeesTheEndOfAJobWhoseStatusEventsAreLost() throws {
        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(workers: 1, environment: ["KG_BROKER_HEARTBEAT": "2"], services: services)
        try stack.loadSample(concepts: 30, dimensions: 4)
        try stack.login()
        let file = try stack.backupWithCLI()
        let backedUp = try stack.fingerprint(.content)
        try stack.execute("UPDATE kg.concepts SET label = 'before'")
        let blocker = try RowLockBlocker(stack, "SELECT 1 FROM kg.concepts WHERE concept_id = (SELECT min(concept_id) FROM kg.concepts) FOR UPDATE")
        defer { blocker.release() }
        let cli = try stack.kgInBackground(["admin", "restore", file, "--yes", "--json"], name: "following-cli")
        var id = ""
        try stack.waitUntil(60, "the restore to block mid-operation") {
            id = try stack.scalar("SELECT job_id::text FROM kg_api.jobs WHERE job_type = 'restore' AND status = 'running'") ?? ""
            return try !id.isEmpty && stack.dataSessionWaitsForALock(id)
        }
        try services.run("rabbitmq-stop")
        XCTAssertEqual(try stack.jobRow(id)["status"] as? String, "running", "the broker went away mid-restore")
        blocker.release()
        try stack.waitUntil(120, "the CLI to see the end") { !cli.isRunning }
        XCTAssertEqual(cli.process.terminationStatus, 0, cli.log + stack.logs)
        XCTAssertTrue(cli.log.contains("\"status\":\"completed\"") || cli.log.contains("\"status\" : \"completed\""), cli.log)
        let job = try stack.jobRow(id)
        XCTAssertEqual(job["status"] as? String, "completed", "it ended while the broker was away: no event could carry it")
        try stack.assertGraph(equals: backedUp, "the restore's graph is the backup's", scope: .content)
        try services.run("rabbitmq-start")
        try stack.waitUntil(60, "the redelivered message to be dropped") {
            try stack.scalar("SELECT count(*) FROM kg_api.jobs WHERE status IN ('queued', 'running')") == "0"
                && stack.logs.contains("dropping the redelivered message")
        }
        XCTAssertEqual(try stack.jobRow(id)["attempts"] as? Int, 1, "not run again after the broker came back")
    }

    // MARK: 12. PostgreSQL restarting mid-backup

    /// The database restarts while a backup streams: the CLI exits non-zero and leaves
    /// nothing in backup_dir, the job fails with a message that says to take a new backup,
    /// temp storage empties, and the next backup works.
    func testADatabaseRestartMidBackupFailsItCleanly() throws {
        let services = try PrivateServices()
        self.services = services
        stack = try TestStack(workers: 1, environment: ["KG_TEST_RECORD_DELAY_MS": "20", "KG_JANITOR_INTERVAL": "1"], services: services)
        try stack.loadSample(concepts: 60, dimensions: 64)
        try stack.login()
        let cli = try stack.kgInBackground(["admin", "backup", "--type", "full"], name: "backup-cli")
        var id = ""
        try stack.waitUntil(60, "the backup to reach the client") {
            id = try stack.scalar("SELECT job_id::text FROM kg_api.jobs WHERE job_type = 'backup' AND status = 'running'") ?? ""
            let partial = stack.backupDirFiles().first { $0.hasSuffix(".partial") }
            let size = partial.flatMap { try? FileManager.default.attributesOfItem(atPath: stack.backupDir + "/" + $0)[.size] as? Int } ?? 0
            return !id.isEmpty && size > 0
        }
        try services.run("postgres-restart")
        try stack.waitUntil(120, "the CLI to give up") { !cli.isRunning }
        XCTAssertEqual(cli.process.terminationStatus, 1, cli.log)
        XCTAssertTrue(cli.log.contains("backup failed"), cli.log)
        XCTAssertEqual(stack.backupDirFiles(), [], "no partial file left in backup_dir")
        let job = try stack.waitForJob(id, timeout: 120)
        XCTAssertEqual(job["status"] as? String, "failed", "\(job)\n\(stack.logs)")
        let error = job["error"] as? String ?? ""
        XCTAssertTrue(error.contains("take a new backup"), error)
        // The real cause, not a worker that never stopped (the janitor's hand-back used to say so).
        XCTAssertTrue(error.contains("database connection was lost during the backup"), error)
        XCTAssertFalse(error.contains("stopped"), error)
        print(
            "PromiseTests: database restart mid-backup: the CLI said \"\(cli.log.trimmingCharacters(in: .whitespacesAndNewlines))\"; "
                + "the job says \"\(error)\"")
        try stack.waitUntil(30, "temp storage to be empty") { stack.tempFiles().isEmpty }
        let next = try stack.backupWithCLI()
        XCTAssertEqual(try stack.kg(["admin", "verify", next]).exitCode, 0)
    }

    // MARK: 7. Temp storage full

    /// Temp storage (a tmpfs, shrunk to 1 MiB once the backups are taken; needs root) cannot
    /// take a 1.4 MB upload: 507 with the cause, exit 1, no job, nothing changed, no file. A
    /// merge whose upload fits but whose checkpoint (the whole graph, 1.4 MB) does not fails
    /// before changing anything, naming the cause and temp storage, and leaves no file.
    func testTempStorageFullDuringAnUploadAndACheckpointWrite() throws {
        let mount = NSTemporaryDirectory() + "kg-tmpfs-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let env = ["PATH": "/usr/bin:/bin"]
        let mounted = try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mount], environment: env)
        XCTAssertEqual(mounted.exitCode, 0, "this test needs root to mount a small tmpfs: \(mounted.summary)")
        guard mounted.exitCode == 0 else { return }
        defer {
            stack?.stop()
            stack = nil
            _ = try? runCommand("/bin/umount", ["-l", mount], environment: env)
            try? FileManager.default.removeItem(atPath: mount)
        }
        stack = try TestStack(workers: 1, environment: ["KG_TEMP_DIR": mount])
        try stack.loadSample(concepts: 120, ontologies: 3, dimensions: 512)
        try stack.login()
        let full = try stack.backupWithCLI()
        let ontology = try stack.backupWithCLI(["--type", "ontology", "--ontology", "systems/thinking", "--compress", "gzip"])
        let sizes = try [full, ontology].map { try FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int ?? 0 }
        XCTAssertGreaterThan(sizes[0], 1 << 20, "the full backup (and so a checkpoint) is larger than 1 MiB")
        XCTAssertLessThan(sizes[1], 1 << 19, "the ontology upload fits")
        try stack.waitUntil(10, "temp storage to be empty") { stack.tempFiles().isEmpty }
        let shrunk = try runCommand("/bin/mount", ["-o", "remount,size=1m", mount], environment: env)
        XCTAssertEqual(shrunk.exitCode, 0, shrunk.summary)
        try stack.execute("UPDATE kg.concepts SET label = 'before'")
        let before = try stack.fingerprint()

        let upload = try stack.kg(["admin", "restore", full, "--yes"])
        XCTAssertEqual(upload.exitCode, 1, upload.summary)
        XCTAssertTrue(
            upload.stderr.contains("temp storage cannot take the upload") && upload.stderr.contains("No space left on device"),
            upload.stderr)
        XCTAssertTrue(upload.stderr.contains("Nothing was changed"), upload.stderr)
        print("PromiseTests: temp storage full during an upload: \(upload.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        XCTAssertEqual(try stack.jobCount(), 0, "no job for a refused upload")
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: mount)) ?? ["?"], [], "no file of the upload left")

        let merge = try stack.kg(["admin", "restore", ontology, "--yes", "--json"])
        XCTAssertEqual(merge.exitCode, 1, merge.summary + stack.logs)
        let answer = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(merge.stdout.utf8)) as? [String: Any], merge.summary)
        let error = answer["error"] as? String ?? ""
        XCTAssertTrue(error.contains("could not write the checkpoint") && error.contains("No space left on device"), error)
        XCTAssertTrue(error.contains("nothing was changed") && error.contains("Check free space in temp storage (\(mount))"), error)
        let id = try XCTUnwrap(answer["job_id"] as? String)
        XCTAssertEqual(try stack.stage(id), "failed", "the job shows it failed")
        try stack.assertGraph(equals: before, "neither the refused upload nor the failed merge changed anything")
        XCTAssertEqual(try stack.scalar("SELECT count(*) FROM kg_api.checkpoints"), "0", "no checkpoint recorded")
        try stack.waitUntil(10, "temp storage to be empty") { ((try? FileManager.default.contentsOfDirectory(atPath: mount)) ?? ["?"]).isEmpty }
    }
}
