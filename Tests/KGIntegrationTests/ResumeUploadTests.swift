import Foundation
import KGClient
import KGTestSupport
import XCTest

/// Issue 18, the upload half: a restore upload is a resumable session. Real gateway, worker,
/// PostgreSQL and CLI; a `TCPProxy` between the CLI and the gateway cuts the upload at random
/// bytes and counts what crossed.
final class ResumeUploadTests: XCTestCase {
    var stack: TestStack!
    var proxy: TCPProxy?

    override func tearDown() {
        proxy?.stop()
        stack?.stop()
    }

    private func start(environment: [String: String] = [:], concepts: Int = 400) throws {
        // The proxy may write to a gateway that was killed: an EPIPE, not a signal that ends the test process.
        signal(SIGPIPE, SIG_IGN)
        stack = try TestStack(workers: 1, environment: environment)
        try stack.loadSample(concepts: concepts, ontologies: 3, dimensions: 48)
        try stack.login()
        proxy = try TCPProxy(targetHost: "127.0.0.1", targetPort: stack.gatewayPorts[0])
    }

    /// The CLI's environment with the proxy as the server (the token given explicitly: a stored
    /// login goes only to the server that issued it) and short retry delays.
    private func viaProxy(_ token: String) -> [String: String] {
        ["KG_API_URL": "http://127.0.0.1:\(proxy!.port)", "KG_TOKEN": token, "KG_RETRY_DELAY_S": "0.2"]
    }

    private func backup(_ extra: [String] = []) throws -> String {
        let r = try stack.kg(["admin", "backup", "--type", "full"] + extra)
        XCTAssertEqual(r.exitCode, 0, r.summary)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func size(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// The data file of the (only) upload session in the stack's temp folder, if any.
    private func sessionDataBytes() -> Int? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: stack.tempDir)) ?? []
        return names.first { $0.hasPrefix("upload_") && $0.hasSuffix(".data") }.map { size(stack.tempDir + "/" + $0) }
    }

    /// Cuts the proxy's client → gateway traffic `cuts` times at random bytes in the first `span` bytes
    /// after each arming (a thread re-arms after each cut), while `body` runs.
    private func cutting<T>(_ cuts: Int, span: Int, seed: UInt64, _ body: () throws -> T) rethrows -> T {
        guard let proxy else { return try body() }
        var random = SeededGenerator(seed: seed)
        let points = (0..<cuts).map { _ in random.int(20_000...max(20_001, span / (cuts + 1))) }
        print("ResumeUploadTests: seed \(seed), cuts after \(points) bytes")
        let finished = StopFlag()
        let thread = Thread {
            for point in points {
                let base = proxy.bytesForwarded.toTarget
                proxy.cutOnce(afterBytes: point, toClient: false)
                while proxy.bytesForwarded.toTarget < base + point {
                    if finished.isSet { return }
                    usleep(5_000)
                }
                usleep(50_000)
            }
        }
        thread.start()
        defer { finished.set() }
        return try body()
    }

    // MARK: - The protocol, raw

    /// Create → PATCH half → HEAD → a wrong offset (409 with the gateway's offset) → another user's
    /// session (404) → PATCH the rest → 202 and the job, which restores the backup.
    func testSessionProtocolOverRawHTTP() throws {
        try start(concepts: 60)
        let file = try backup()
        let before = try stack.fingerprint(.content)
        try stack.wipeGraph()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let token = try stack.token()
        let client = HTTPClient(baseURL: stack.apiURL, token: token)

        let created = try stack.call(
            "POST", "/admin/restore/uploads", token: token,
            json: #"{"size": \#(bytes.count), "file_name": "x.json", "mode": "replace"}"#)
        XCTAssertEqual(created.status, 201, String(decoding: created.body, as: UTF8.self))
        let url = try XCTUnwrap(TestStack.object(created)["upload_url"] as? String)
        XCTAssertEqual(created.headers["location"], url)

        func patch(_ range: Range<Int>, offset: Int? = nil) throws -> HTTPResponse {
            try client.patchUpload(url, bytes, range, offset: offset)
        }
        let half = bytes.count / 2
        let first = try patch(0..<half)
        XCTAssertEqual(first.status, 204, String(decoding: first.body, as: UTF8.self))
        XCTAssertEqual(first.headers["upload-offset"], String(half))
        let head = try stack.call("HEAD", url, token: token)
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.headers["upload-offset"], String(half))
        XCTAssertEqual(head.headers["upload-length"], String(bytes.count))

        // A range that does not start where the gateway stands: 409 and the offset it holds; nothing appended.
        let wrong = try patch(10..<half, offset: 10)
        XCTAssertEqual(wrong.status, 409, String(decoding: wrong.body, as: UTF8.self))
        XCTAssertEqual(wrong.headers["upload-offset"], String(half))

        // Another admin does not see, continue or end this session.
        try stack.addUser("bob", role: "admin", password: "bob-pw")
        let bob = try stack.token("bob", password: "bob-pw")
        XCTAssertEqual(try stack.call("GET", url, token: bob).status, 404)
        XCTAssertEqual(try stack.call("DELETE", url, token: bob).status, 404)
        let bobPatch = try HTTPClient(baseURL: stack.apiURL, token: bob)
            .uploadStream(method: "PATCH", path: url, source: UploadSource(size: 0) { _ in 0 }, headers: ["Upload-Offset": String(half)])
        XCTAssertEqual(bobPatch.status, 404)

        let last = try patch(half..<bytes.count)
        XCTAssertEqual(last.status, 202, String(decoding: last.body, as: UTF8.self))
        let jobID = try XCTUnwrap(TestStack.object(last)["job_id"] as? String)
        let job = try stack.waitForJob(jobID)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)\n\(stack.logs)")
        try stack.assertGraph(equals: before, "the resumed upload restores the backup", scope: .content)
        // The upload has ended: the bytes are the job's, nothing of the session is left.
        XCTAssertEqual(try stack.call("GET", url, token: token).status, 404)
        XCTAssertEqual(stack.tempFiles().filter { $0.hasPrefix("upload_") }, [])
        // The audit trail says how the upload arrived.
        let audit = try stack.auditRows(action: "restore").first { ($0["target"] ?? nil) == jobID }
        XCTAssertTrue((audit?["detail"] ?? nil)?.contains("in 2 requests") == true, "\(String(describing: audit))")
    }

    /// An invalid backup is refused with the same report whether it came as one multipart upload or as a session.
    func testInvalidUploadGetsTheMultipartRoutesReport() throws {
        try start(concepts: 10)
        let path = stack.root + "/broken.json"
        try
            #"{"version":"1.0","type":"full_backup","data":{"concepts":[],"sources":[],"instances":[{"instance_id":"i","quote":"q","concept_id":"c","source_id":"s"}],"relationships":[]}}"#
            .write(toFile: path, atomically: true, encoding: .utf8)
        let multipart = try stack.uploadRestore(path)
        XCTAssertEqual(multipart.status, 400)
        let token = try stack.token()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let created = try stack.call("POST", "/admin/restore/uploads", token: token, json: #"{"size": \#(bytes.count)}"#)
        let url = try XCTUnwrap(TestStack.object(created)["upload_url"] as? String)
        var sent = false
        let r = try HTTPClient(baseURL: stack.apiURL, token: token).uploadStream(
            method: "PATCH", path: url,
            source: UploadSource(size: Int64(bytes.count)) { buffer in
                guard !sent else { return 0 }
                sent = true
                _ = bytes.copyBytes(to: buffer)
                return bytes.count
            }, headers: ["Upload-Offset": "0"])
        XCTAssertEqual(r.status, 400)
        XCTAssertTrue(
            NSDictionary(dictionary: TestStack.object(r)).isEqual(to: multipart.json),
            "session: \(TestStack.object(r))\nmultipart: \(multipart.json)")
        XCTAssertEqual(try stack.jobCount(), 0)
        XCTAssertEqual(sessionDataBytes(), nil, "nothing of the refused upload is kept")
    }

    // MARK: - The CLI through a cutting proxy

    /// Plain, gzip, zstd and age files, each cut once or several times at random bytes, restore
    /// losslessly; the proxy counts less than 1.1× the file; the gateway counts what it received.
    func testCutUploadsRestoreLosslessly() throws {
        try start()
        let (identity, recipient) = try stack.ageKeyPair()
        let before = try stack.fingerprint(.content)
        let token = try stack.token()
        let seed = UInt64(Date().timeIntervalSince1970)
        let cases: [(name: String, backup: [String], restore: [String], cuts: Int)] = [
            ("plain", [], [], 1),
            ("plain", [], [], 3),
            ("gzip", ["--compress", "gzip"], [], 2),
            ("zstd", ["--compress", "zstd"], [], 2),
            ("zstd+age", ["--compress", "zstd", "--recipient", recipient], ["--identity", identity], 2),
        ]
        for (index, item) in cases.enumerated() {
            let file = try backup(item.backup)
            let fileBytes = size(file)
            try stack.wipeGraph()
            let metricsBefore = try stack.scrapeMetrics().value("kg_bytes_streamed_total", ["direction": "in", "stream": "restore"])
            let proxied = proxy!.bytesForwarded.toTarget
            let r = try cutting(item.cuts, span: fileBytes, seed: SeededGenerator.caseSeed(seed, index)) {
                try stack.kg(["admin", "restore", file, "--yes", "--mode", "replace"] + item.restore, extra: viaProxy(token))
            }
            XCTAssertEqual(r.exitCode, 0, "\(item.name): \(r.summary)\n\(stack.logs)")
            try stack.assertGraph(equals: before, "\(item.name) cut \(item.cuts)× restores the graph", scope: .content)
            let crossed = proxy!.bytesForwarded.toTarget - proxied
            print(
                "ResumeUploadTests: \(item.name), \(item.cuts) cut(s): file \(fileBytes) bytes, \(crossed) bytes crossed the proxy "
                    + "(\(String(format: "%.3f", Double(crossed) / Double(fileBytes)))×)")
            XCTAssertLessThan(Double(crossed), 1.1 * Double(fileBytes), item.name)
            let counted = try stack.scrapeMetrics().value("kg_bytes_streamed_total", ["direction": "in", "stream": "restore"]) - metricsBefore
            // What the gateway received: every byte of what was uploaded, never more than crossed the proxy.
            XCTAssertGreaterThanOrEqual(counted, Double(item.name.hasSuffix("age") ? 1 : fileBytes), item.name)
            XCTAssertLessThanOrEqual(counted, Double(crossed), item.name)
            // The audit trail says the upload came in several requests: the cut happened and was resumed.
            let detail = (try stack.auditRows(action: "restore").first?["detail"] ?? nil) ?? ""
            let requests = detail.components(separatedBy: " in ").last.flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
            XCTAssertGreaterThanOrEqual(requests, 2, "\(item.name): \(detail)")
            // A cut is not a refusal: the audit trail has no refused restore for it.
            let refused = try stack.auditRows(action: "restore").filter { ($0["outcome"] ?? nil) == "refused" }
            XCTAssertEqual(refused.count, 0, "\(item.name): \(refused)")
        }
        XCTAssertEqual(sessionDataBytes(), nil, "no upload left behind")
        XCTAssertTrue(RestoreStoreFile(stack).entries.isEmpty, "finished uploads are not kept for --resume")
    }

    /// The CLI killed (SIGKILL) mid-upload; `--resume` sends the rest and the restore completes.
    func testKilledCLIResumes() throws {
        try start()
        let file = try backup()
        let fileBytes = size(file)
        let before = try stack.fingerprint(.content)
        try stack.wipeGraph()
        let token = try stack.token()
        let proxied = proxy!.bytesForwarded.toTarget
        let cli = try ManagedProcess(
            name: "kg-restore-slow", executable: stack.binDir + "/kg",
            arguments: ["admin", "restore", file, "--yes", "--mode", "replace", "--limit-upload", "256"],
            environment: stack.cliEnvironment(extra: viaProxy(token)), logDir: stack.root + "/logs")
        let deadline = Date().addingTimeInterval(60)
        while proxy!.bytesForwarded.toTarget - proxied < fileBytes / 3, Date() < deadline { usleep(20_000) }
        cli.killHard()
        // The gateway writes what arrived when the request breaks off.
        var held = 0
        while held == 0, Date() < deadline {
            held = sessionDataBytes() ?? 0
            usleep(20_000)
        }
        XCTAssertGreaterThan(held, 0)
        XCTAssertLessThan(held, fileBytes, "killed before the end")

        let r = try stack.kg(["admin", "restore", file, "--yes", "--mode", "replace", "--resume"], extra: viaProxy(token))
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        XCTAssertTrue(r.stderr.contains("resuming the upload at byte"), r.stderr)
        try stack.assertGraph(equals: before, "the resumed upload restores the graph", scope: .content)
        let crossed = proxy!.bytesForwarded.toTarget - proxied
        print(
            "ResumeUploadTests: killed at \(held) of \(fileBytes) bytes; \(crossed) bytes crossed in all "
                + "(\(String(format: "%.3f", Double(crossed) / Double(fileBytes)))×)")
        XCTAssertLessThan(Double(crossed), 1.1 * Double(fileBytes))
    }

    /// The gateway killed and restarted mid-upload: the CLI stops and says how to continue;
    /// `--resume` continues on the new gateway, which rebuilds its check from the stored bytes.
    func testGatewayRestartedMidUploadResumes() throws {
        try start()
        let file = try backup()  // plain, > 1 MB: the gateway has written some of it when it dies
        let fileBytes = size(file)
        let before = try stack.fingerprint(.content)
        try stack.wipeGraph()
        let token = try stack.token()
        let cli = try ManagedProcess(
            name: "kg-restore-slow", executable: stack.binDir + "/kg",
            arguments: [
                "admin", "restore", file, "--yes", "--mode", "replace", "--limit-upload", "128",
                "--retries", "0",
            ],
            environment: stack.cliEnvironment(extra: viaProxy(token)), logDir: stack.root + "/logs")
        let proxied = proxy!.bytesForwarded.toTarget
        let deadline = Date().addingTimeInterval(60)
        while proxy!.bytesForwarded.toTarget - proxied < fileBytes / 2, Date() < deadline { usleep(20_000) }
        stack.gateways[0].killHard()
        XCTAssertGreaterThan(sessionDataBytes() ?? 0, 0, "the dead gateway had written part of the upload")
        cli.process.waitUntilExit()
        XCTAssertEqual(cli.process.terminationStatus, 1)
        let log = (try? String(contentsOfFile: cli.logPath, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("--resume"), log)
        try stack.restartGateway()

        let r = try stack.kg(["admin", "restore", file, "--yes", "--mode", "replace", "--resume"], extra: viaProxy(token))
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        try stack.assertGraph(equals: before, "the upload continued on the restarted gateway restores the graph", scope: .content)
        XCTAssertTrue(stack.logs.contains("restore upload check rebuilt from the stored prefix"), "the new gateway re-read the stored bytes")
    }

    /// A file that changed after its upload was interrupted is never continued onto the old bytes:
    /// its digest names no kept upload, so `--resume` says to start again.
    func testChangedFileIsNeverStitchedOntoAnOldUpload() throws {
        try start(concepts: 100)
        let file = try backup()
        let token = try stack.token()
        proxy!.cutOnce(afterBytes: size(file) / 2, toClient: false)
        let cut = try stack.kg(["admin", "restore", file, "--yes", "--retries", "0"], extra: viaProxy(token))
        XCTAssertEqual(cut.exitCode, 1, cut.summary)
        XCTAssertNotNil(sessionDataBytes(), "the gateway keeps the first part")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: file))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("\n".utf8))  // still the same valid backup, other bytes
        try handle.close()
        let r = try stack.kg(["admin", "restore", file, "--yes", "--resume"], extra: viaProxy(token))
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertTrue(r.stderr.contains("no unfinished upload of"), r.stderr)
        XCTAssertEqual(try stack.jobCount(), 0)
    }

    /// An upload idle past `restore_upload_window_s` is gone: `--resume` says so and what to do.
    func testExpiredUploadSaysToStartAgain() throws {
        try start(environment: ["KG_RESTORE_UPLOAD_WINDOW": "2", "KG_JANITOR_INTERVAL": "1"], concepts: 100)
        let file = try backup()
        let token = try stack.token()
        proxy!.cutOnce(afterBytes: size(file) / 2, toClient: false)
        let cut = try stack.kg(["admin", "restore", file, "--yes", "--retries", "0"], extra: viaProxy(token))
        XCTAssertEqual(cut.exitCode, 1, cut.summary)
        XCTAssertTrue(cut.stderr.contains("--resume"), cut.stderr)
        sleep(4)
        XCTAssertEqual(sessionDataBytes(), nil, "the sweeper removed the expired upload")
        let r = try stack.kg(["admin", "restore", file, "--yes", "--resume"], extra: viaProxy(token))
        XCTAssertEqual(r.exitCode, 1, r.summary)
        XCTAssertTrue(r.stderr.contains("no longer holds this upload"), r.stderr)
        XCTAssertTrue(r.stderr.contains("without --resume"), r.stderr)
        XCTAssertEqual(try stack.jobCount(), 0)
        let again = try stack.kg(["admin", "restore", file, "--yes", "--resume"], extra: viaProxy(token))
        XCTAssertTrue(again.stderr.contains("no unfinished upload"), again.stderr)
    }
}

/// The CLI's `restore-uploads.json` of a stack's CLI home.
private struct RestoreStoreFile {
    let entries: [[String: Any]]

    init(_ stack: TestStack) {
        let path = stack.cliHome + "/config/kg/restore-uploads.json"
        let data = FileManager.default.contents(atPath: path) ?? Data("[]".utf8)
        entries = (try? JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
    }
}

/// A flag one thread sets and another reads.
private final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}
