import Foundation
import KGClient
import KGTestSupport
import XCTest

/// Issue 15: a restore whose upload is long enough starts while the upload arrives
/// (`restore_pipeline_min_bytes`, here 0: every upload); the worker loads into staging as the
/// bytes come and changes nothing before the gateway accepted the whole upload. Real gateway,
/// worker, PostgreSQL, RabbitMQ and CLI; the upload sent in parts over raw HTTP where the test
/// must act between them.
final class PipelinedRestoreTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    private func start(_ environment: [String: String] = [:]) throws {
        stack = try TestStack(workers: 1, environment: ["KG_RESTORE_PIPELINE_MIN_BYTES": "0"].merging(environment) { _, new in new })
        try stack.loadSample(concepts: 300, ontologies: 3, dimensions: 48)
        try stack.login()
    }

    private func backupBytes() throws -> Data {
        let r = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(r.exitCode, 0, r.summary)
        return try Data(contentsOf: URL(fileURLWithPath: r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// A resumable upload of `bytes` over raw HTTP: its URL, and a way to send a range of it.
    private struct Upload {
        let url: String
        let bytes: Data
        let client: HTTPClient

        func patch(_ range: Range<Int>) throws -> HTTPResponse {
            try client.patchUpload(url, bytes, range)
        }
    }

    private func createUpload(_ bytes: Data) throws -> Upload {
        let token = try stack.token()
        let created = try stack.call(
            "POST", "/admin/restore/uploads", token: token, json: #"{"size": \#(bytes.count), "file_name": "x.json", "mode": "replace"}"#)
        XCTAssertEqual(created.status, 201, String(decoding: created.body, as: UTF8.self))
        let url = try XCTUnwrap(TestStack.object(created)["upload_url"] as? String)
        return Upload(url: url, bytes: bytes, client: HTTPClient(baseURL: stack.apiURL, token: token))
    }

    /// The restore jobs' rows: id, status, stage, error, and whether they were pipelined.
    private func restoreJobs() throws -> [[String: String?]] {
        try stack.db().query(
            """
            SELECT job_id::text AS id, status, progress->>'stage' AS stage, error, params->>'pipelined' AS pipelined,
                   params->>'upload_accepted' AS accepted
            FROM kg_api.jobs WHERE job_type = 'restore' ORDER BY created_at
            """
        ).rows.map { row in ["id": row[0], "status": row[1], "stage": row[2], "error": row[3], "pipelined": row[4], "accepted": row[5]] }
    }

    /// Waits until the only restore job is `loading` (it has read all that arrived and waits for more).
    private func waitForLoading() throws -> String {
        var id: String?
        try stack.waitUntil(60, "a pipelined restore loading the half upload (\((try? restoreJobs()) ?? []))") {
            guard let job = (try? self.restoreJobs())?.first, job["stage"] == "loading", job["status"] == "running" else { return false }
            id = job["id"] ?? nil
            return true
        }
        return try XCTUnwrap(id)
    }

    /// A backup of the sample graph, the graph then emptied, and half the backup sent as a resumable
    /// upload, whose pipelined restore is loading: the graph before and after the wipe, the upload,
    /// and the loading job.
    private func halfUploaded() throws -> (before: GraphFingerprint, wiped: GraphFingerprint, upload: Upload, loading: String) {
        let bytes = try backupBytes()
        let before = try stack.fingerprint(.content)
        try stack.wipeGraph()
        let wiped = try stack.fingerprint(.exact)
        let upload = try createUpload(bytes)
        let half = try upload.patch(0..<(bytes.count / 2))
        XCTAssertEqual(half.status, 204, String(decoding: half.body, as: UTF8.self))
        return (before, wiped, upload, try waitForLoading())
    }

    /// Sends the rest of a half-sent upload.
    private func rest(of upload: Upload) throws -> HTTPResponse {
        try upload.patch((upload.bytes.count / 2)..<upload.bytes.count)
    }

    /// No upload and no job file left in temp storage.
    private func waitForNothingLeft() throws {
        try stack.waitUntil(10, "nothing left") { self.stack.tempFiles().filter { $0.hasPrefix("upload_") || $0.hasPrefix("restore_") }.isEmpty }
    }

    /// Half the upload in, the restore is already loading it; the rest in, the same job takes the
    /// file and restores it exactly. Nothing of the upload or the job's file is left.
    func testARestoreLoadsItsUploadWhileItArrives() throws {
        try start()
        let (before, wiped, upload, loading) = try halfUploaded()
        XCTAssertEqual(try restoreJobs().first?["pipelined"], "true")
        XCTAssertEqual(try stack.fingerprint(.exact), wiped, "nothing changed while the upload arrives")

        let rest = try rest(of: upload)
        XCTAssertEqual(rest.status, 202, String(decoding: rest.body, as: UTF8.self))
        XCTAssertEqual(TestStack.object(rest)["job_id"] as? String, loading, "the job that loaded the upload takes it")
        let job = try stack.waitForJob(loading)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        try stack.assertGraph(equals: before, "the pipelined restore gives the backup", scope: .content)
        XCTAssertEqual(try restoreJobs().count, 1, "one job")
        XCTAssertEqual(try restoreJobs().first?["accepted"], "true")
        let audit = try stack.auditRows(action: "restore").first { ($0["target"] ?? nil) == loading }
        XCTAssertTrue((audit?["detail"] ?? nil)?.contains("loaded while it arrived") == true, "\(String(describing: audit))")
        try waitForNothingLeft()
    }

    /// An upload the gateway's check refuses at its end (a reference to a concept the file lacks,
    /// known only then): 400 with the findings, the pipelined job cancelled, the graph as it was.
    func testAnInvalidUploadCancelsItsRestore() throws {
        try start()
        let text = try UploadFixtures.withDanglingInstance(String(decoding: try backupBytes(), as: UTF8.self))
        let bytes = Data(text.utf8)
        let before = try stack.fingerprint(.content)
        let upload = try createUpload(bytes)
        XCTAssertEqual(try upload.patch(0..<(bytes.count / 2)).status, 204)
        let loading = try waitForLoading()
        let refused = try upload.patch((bytes.count / 2)..<bytes.count)
        XCTAssertEqual(refused.status, 400, String(decoding: refused.body, as: UTF8.self))
        XCTAssertTrue(String(decoding: refused.body, as: UTF8.self).contains("references"), String(decoding: refused.body, as: UTF8.self))
        let job = try stack.waitForJob(loading)
        XCTAssertEqual(job["status"] as? String, "cancelled", "\(job)")
        XCTAssertTrue((job["error"] as? String ?? "").contains("not a valid backup"), "\(job)")
        try stack.assertGraph(equals: before, "an invalid upload changes nothing", scope: .content)
        try waitForNothingLeft()
    }

    /// An upload that stops halfway: the restore gives it up after `restore_pipeline_stall_s` (the
    /// upload stays), and the upload's resumed end queues a new restore that completes.
    func testAStalledUploadIsGivenUpAndItsResumedEndRestores() throws {
        try start(["KG_RESTORE_PIPELINE_STALL": "2"])
        let (before, wiped, upload, first) = try halfUploaded()
        let gaveUp = try stack.waitForJob(first, timeout: 60)
        XCTAssertEqual(gaveUp["status"] as? String, "cancelled", "\(gaveUp)")
        XCTAssertTrue((gaveUp["error"] as? String ?? "").contains("stopped arriving"), "\(gaveUp)")
        XCTAssertEqual(try stack.fingerprint(.exact), wiped, "nothing changed")

        let rest = try rest(of: upload)
        XCTAssertEqual(rest.status, 202, String(decoding: rest.body, as: UTF8.self))
        let second = try XCTUnwrap(TestStack.object(rest)["job_id"] as? String)
        XCTAssertNotEqual(second, first, "a new restore takes the whole upload")
        let job = try stack.waitForJob(second)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        try stack.assertGraph(equals: before, "the resumed upload restores the backup", scope: .content)
    }

    /// A merge makes a checkpoint before it loads; when its upload is then refused, nothing reached the
    /// graph, and the checkpoint is discarded rather than kept for inspection (the system fuzz found
    /// such checkpoints kept for cancelled jobs).
    func testAMergeWhoseUploadIsRefusedKeepsNoCheckpoint() throws {
        try start()
        let text = try UploadFixtures.withDanglingInstance(String(decoding: try backupBytes(), as: UTF8.self))
        let bytes = Data(text.utf8)
        let before = try stack.fingerprint(.exact)
        let token = try stack.token()
        let created = try stack.call(
            "POST", "/admin/restore/uploads", token: token, json: #"{"size": \#(bytes.count), "file_name": "x.json", "mode": "merge"}"#)
        XCTAssertEqual(created.status, 201, String(decoding: created.body, as: UTF8.self))
        let upload = Upload(
            url: try XCTUnwrap(TestStack.object(created)["upload_url"] as? String), bytes: bytes,
            client: HTTPClient(baseURL: stack.apiURL, token: token))
        XCTAssertEqual(try upload.patch(0..<(bytes.count / 2)).status, 204)
        let loading = try waitForLoading()
        XCTAssertEqual(try upload.patch((bytes.count / 2)..<bytes.count).status, 400)
        XCTAssertEqual(try stack.waitForJob(loading)["status"] as? String, "cancelled")
        try stack.waitUntil(10, "the checkpoint discarded") {
            try self.stack.scalar("SELECT count(*) FROM kg_api.checkpoints") == "0"
                && !self.stack.tempFiles().contains { $0.contains("checkpoint") }
        }
        XCTAssertEqual(try stack.fingerprint(.exact), before, "nothing changed")
    }

    /// A user cancels the restore while its upload arrives: the upload's end answers with that job
    /// (cancelled), not a new restore that would undo the cancel; nothing changed, nothing left.
    func testARestoreCancelledWhileItsUploadArrivesIsTheUploadsAnswer() throws {
        try start()
        let (_, wiped, upload, loading) = try halfUploaded()
        let cancel = try stack.call("DELETE", "/jobs/\(loading)", token: try stack.token())
        XCTAssertTrue([200, 202].contains(cancel.status), String(decoding: cancel.body, as: UTF8.self))
        XCTAssertEqual(try stack.waitForJob(loading)["status"] as? String, "cancelled")
        let rest = try rest(of: upload)
        XCTAssertEqual(rest.status, 202, String(decoding: rest.body, as: UTF8.self))
        XCTAssertEqual(TestStack.object(rest)["job_id"] as? String, loading, "the cancelled job is the answer")
        XCTAssertEqual(TestStack.object(rest)["status"] as? String, "cancelled")
        XCTAssertEqual(try restoreJobs().count, 1, "no second restore")
        XCTAssertEqual(try stack.fingerprint(.exact), wiped, "nothing changed")
        try waitForNothingLeft()
    }

    /// The worker loading an upload is killed; another takes the job over from the upload's first
    /// byte, and the restore completes exactly once.
    func testAWorkerKilledWhileLoadingAnUploadIsReplaced() throws {
        try start()
        let (before, _, upload, loading) = try halfUploaded()
        try XCTUnwrap(stack.workers["w1"]).killHard()
        try stack.startWorker("w2")
        let rest = try rest(of: upload)
        XCTAssertEqual(rest.status, 202, String(decoding: rest.body, as: UTF8.self))
        let job = try stack.waitForJob(try XCTUnwrap(TestStack.object(rest)["job_id"] as? String))
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        try stack.assertGraph(equals: before, "the restore after the worker's death gives the backup", scope: .content)
        let jobs = try restoreJobs()
        XCTAssertEqual(jobs.filter { $0["status"] == "completed" }.count, 1, "one restore completed: \(jobs) (first: \(loading))")
    }

    /// `kg admin restore --yes` end to end: pipelined, and an invalid file that the CLI's check stops
    /// before its last byte cancels the restore that was loading it.
    func testTheCLIRestoresThroughAPipelinedJob() throws {
        try start()
        let r = try stack.kg(["admin", "backup", "--type", "full"])
        let file = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let before = try stack.fingerprint(.content)
        try stack.wipeGraph()
        let restored = try stack.kg(["admin", "restore", file, "--yes"])
        XCTAssertEqual(restored.exitCode, 0, restored.summary)
        try stack.assertGraph(equals: before, "the CLI's pipelined restore", scope: .content)
        XCTAssertEqual(try restoreJobs().map { $0["pipelined"] ?? nil }, ["true"])

        let text = try UploadFixtures.withDanglingInstance(try String(contentsOfFile: file, encoding: .utf8))
        let broken = stack.root + "/broken.json"
        try text.write(toFile: broken, atomically: true, encoding: .utf8)
        let refused = try stack.kg(["admin", "restore", broken, "--yes"])
        XCTAssertEqual(refused.exitCode, 1, refused.summary)
        XCTAssertTrue(refused.stderr.contains("stopped before the last byte"), refused.stderr)
        try stack.waitUntil(30, "the second restore cancelled") { (try? self.restoreJobs())?.last?["status"] == "cancelled" }
        let jobs = try restoreJobs()
        XCTAssertTrue((jobs.last?["error"] ?? nil)?.contains("abandoned") == true, "\(jobs)")
        try stack.assertGraph(equals: before, "the refused file changed nothing", scope: .content)
        try waitForNothingLeft()
    }
}
