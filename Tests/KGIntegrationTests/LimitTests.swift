import Foundation
import KGClient
import KGDatabase
import XCTest

/// `max_jobs_per_user` (429 with Retry-After) and `http_idle_timeout_s` (slow
/// clients are cut, streams are not). No worker runs, so accepted restores stay
/// queued and count against the limit.
final class LimitTests: XCTestCase {
    var stack: TestStack!
    static let idleTimeout = 2.0
    static let requestTimeout = 4.0

    override func setUpWithError() throws {
        // No worker runs unless a test starts one; KG_TEST_RECORD_DELAY_MS then makes its backups slow.
        stack = try TestStack(
            workers: 0,
            environment: [
                "KG_MAX_JOBS_PER_USER": "2",
                "KG_HTTP_IDLE_TIMEOUT": String(Self.idleTimeout),
                "KG_HTTP_REQUEST_TIMEOUT": String(Self.requestTimeout),
                "KG_TEST_RECORD_DELAY_MS": "30",
            ])
    }

    override func tearDown() {
        stack?.stop()
    }

    private func upload(_ token: String) throws -> HTTPResponse {
        try Self.upload(apiURL: stack.apiURL, token: token)
    }

    private static func upload(apiURL: String, token: String) throws -> HTTPResponse {
        try HTTPClient(baseURL: apiURL, token: token).uploadMultipart(
            path: "/admin/restore", fields: [("dry_run", "true")], fileField: "file", filePath: TestStack.fixtureBackup,
            fileName: "full_backup_schema_v3.json", contentType: "application/json")
    }

    func testJobsPerUserLimitAnswers429WithRetryAfter() throws {
        let token = try stack.token()
        var accepted: [String] = []
        for _ in 0..<2 {
            let r = try upload(token)
            XCTAssertEqual(r.status, 202, String(decoding: r.body, as: UTF8.self) + stack.logs)
            accepted.append(try XCTUnwrap(TestStack.object(r)["job_id"] as? String))
        }
        let filesBefore = stack.tempFiles()

        let refused = try upload(token)
        XCTAssertEqual(refused.status, 429, String(decoding: refused.body, as: UTF8.self))
        XCTAssertEqual(refused.headers["retry-after"], "15")
        let object = TestStack.object(refused)
        XCTAssertTrue((object["error"] as? String ?? "").contains("max_jobs_per_user = 2"), "\(object)")
        let detail = try XCTUnwrap(object["detail"] as? [String: Any], "\(object)")
        XCTAssertEqual(detail["limit"] as? Int, 2)
        XCTAssertEqual(detail["retry_after_s"] as? Int, 15)
        XCTAssertEqual(Set(detail["active_jobs"] as? [String] ?? []), Set(accepted))
        XCTAssertEqual(stack.tempFiles(), filesBefore, "a refused upload leaves no temp file")

        // Backups count against the same limit (refused before any job exists).
        let backup = try stack.call("POST", "/admin/backup", token: token, json: #"{"backup_type": "full"}"#)
        XCTAssertEqual(backup.status, 429)
        XCTAssertEqual(backup.headers["retry-after"], "15")

        // The CLI says what the limit is, which jobs hold it, and when to retry; exit 1.
        try stack.login()
        let cli = try stack.kg(["admin", "restore", TestStack.fixtureBackup, "--yes"])
        XCTAssertEqual(cli.exitCode, 1, cli.summary)
        XCTAssertTrue(cli.stderr.contains("max_jobs_per_user = 2"), cli.stderr)
        XCTAssertTrue(cli.stderr.contains("Try again in 15 s"), cli.stderr)
        XCTAssertTrue(cli.stderr.contains(accepted[0]), cli.stderr)
        let cliBackup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(cliBackup.exitCode, 1, cliBackup.summary)
        XCTAssertTrue(cliBackup.stderr.contains("Try again in 15 s"), cliBackup.stderr)
        XCTAssertEqual((try? FileManager.default.contentsOfDirectory(atPath: stack.backupDir)) ?? [], [], "nothing in backup_dir")

        // The refusal is audited.
        let rows = try stack.auditRows(actor: "admin", action: "restore")
        XCTAssertTrue(rows.contains { ($0["outcome"] ?? nil) == "refused" && ((($0["detail"] ?? nil) ?? "").contains("429")) }, "\(rows)")

        // Two ended jobs free the slots; then concurrent requests cannot slip past the limit together.
        for id in accepted {
            XCTAssertEqual(try stack.call("DELETE", "/jobs/\(id)", token: token).status, 200)
        }
        let statuses = ConcurrentResults()
        let apiURL = stack.apiURL
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            statuses.append((try? Self.upload(apiURL: apiURL, token: token).status) ?? -1)
        }
        XCTAssertEqual(statuses.values.filter { $0 == 202 }.count, 2, "\(statuses.values)")
        XCTAssertEqual(statuses.values.filter { $0 == 429 }.count, 4, "\(statuses.values)")
        let db = try stack.db()
        defer { db.close() }
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM kg_api.jobs WHERE status IN ('queued', 'running')").first("n"), "2")
    }

    /// The count and the insert are atomic per user: threads released together
    /// never create more jobs than the limit (10 rounds of 8 at a limit of 3).
    func testConcurrentCreatesNeverPassTheLimit() throws {
        let threads = 8, limit = 3
        let connections = try (0..<threads).map { _ in try stack.db() }
        defer { connections.forEach { $0.close() } }
        for round in 0..<10 {
            let user = "racer\(round)"
            let created = ConcurrentResults()
            let start = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for connection in connections {
                let box = ConnectionBox(connection)
                DispatchQueue.global().async(group: group) {
                    start.wait()
                    do {
                        try JobStore(box.connection).create(
                            jobID: UUID().uuidString.lowercased(), type: "restore", username: user,
                            params: "{}", tempFile: nil, maxActivePerUser: limit)
                        created.append(1)
                    } catch is JobLimitReached {
                        created.append(0)
                    } catch {
                        created.append(-1)
                    }
                }
            }
            for _ in 0..<threads { start.signal() }
            group.wait()
            XCTAssertEqual(created.values.filter { $0 == 1 }.count, limit, "round \(round): \(created.values)")
            XCTAssertEqual(created.values.filter { $0 == 0 }.count, threads - limit, "round \(round): \(created.values)")
        }
    }

    /// A client that trickles a request body a byte at a time is never idle (each
    /// byte is a body part to Hummingbird's idle timer), so the idle timeout alone
    /// never cuts it: `http_request_timeout_s` does. A trickled head is cut too
    /// (the idle timer counts only whole HTTP parts, so a head counts as silence
    /// until it ends). An honest slow client within the time is answered. (Uploads
    /// are exempt: the slow multipart upload in the next test takes longer than
    /// this timeout and is answered 202.)
    func testRequestTimeoutCutsTricklingClients() throws {
        let port = stack.gatewayPorts[0]
        let credentials = #"{"username": "admin", "password": "\#(String(repeating: "x", count: 80))"}"#
        let login =
            "POST /auth/token HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(credentials.utf8.count)\r\n\r\n"
        let body = try RawHTTPConnection(port: port)
        try body.send(login)
        let bodyCut = body.trickle(credentials, every: 0.25, limit: Self.requestTimeout * 3)
        let bodySeconds = try XCTUnwrap(bodyCut.seconds, "a trickled JSON body was never cut")
        XCTAssertGreaterThan(bodySeconds, Self.requestTimeout * 0.9, "cut by the request timeout, not by the idle one (\(Self.idleTimeout) s)")
        XCTAssertLessThan(bodySeconds, Self.requestTimeout * 2)
        XCTAssertFalse(bodyCut.received.contains("HTTP/1.1"), "nothing is answered to half a body: \(bodyCut.received)")

        let head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + String(repeating: "X-Slow: trickle\r\n", count: 20) + "\r\n"
        let headCut = try RawHTTPConnection(port: port).trickle(head, every: 0.25, limit: Self.requestTimeout * 3)
        let headSeconds = try XCTUnwrap(headCut.seconds, "a trickled head was never cut")
        XCTAssertLessThan(headSeconds, max(Self.idleTimeout, Self.requestTimeout) * 1.5)
        XCTAssertFalse(headCut.received.contains("HTTP/1.1"), "nothing is answered to half a request: \(headCut.received)")

        // A slow but whole request within both times is answered, and so is the
        // next one on the same connection, sent after a pause.
        let honest = try RawHTTPConnection(port: port)
        let short = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        let answered = honest.trickle(short, every: Self.idleTimeout * 0.5 / Double(short.utf8.count), limit: Self.requestTimeout)
        XCTAssertNil(answered.seconds, "an honest slow request was cut")
        var reply = answered.received
        if !reply.contains("HTTP/1.1 200"), case .data(let more) = honest.read(timeout: 3) { reply += more }
        XCTAssertTrue(reply.contains("HTTP/1.1 200"), reply)
        usleep(UInt32(Self.idleTimeout * 0.5 * 1_000_000))
        try honest.send(short)
        guard case .data(let again) = honest.read(timeout: 3) else { return XCTFail("the second request on the connection was not answered") }
        XCTAssertTrue(again.contains("HTTP/1.1 200"), again)
        print(
            "LimitTests: trickled body cut after \(String(format: "%.2f", bodySeconds)) s, trickled head after \(String(format: "%.2f", headSeconds)) s (http_request_timeout_s = \(Self.requestTimeout), http_idle_timeout_s = \(Self.idleTimeout))"
        )
    }

    /// A client that sends half a request and waits (slow-loris) is cut after the
    /// idle timeout; so is an idle keep-alive connection. An SSE stream that
    /// outlives the timeout several times over is not.
    func testIdleTimeoutCutsSlowClientsButNotStreams() throws {
        let port = stack.gatewayPorts[0]
        let loris = try RawHTTPConnection(port: port)
        try loris.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        let cut = loris.secondsUntilClosed(limit: Self.idleTimeout * 5)
        let seconds = try XCTUnwrap(cut.seconds, "the half-sent request was never cut")
        XCTAssertGreaterThan(seconds, Self.idleTimeout * 0.7)
        XCTAssertLessThan(seconds, Self.idleTimeout * 3)
        XCTAssertFalse(cut.received.contains("200"), "no answer to half a request: \(cut.received)")
        print("LimitTests: half-sent request cut after \(String(format: "%.2f", seconds)) s (http_idle_timeout_s = \(Self.idleTimeout))")

        let idle = try RawHTTPConnection(port: port)
        try idle.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        guard case .data(let answer) = idle.read(timeout: 5) else { return XCTFail("no answer to /healthz") }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200"), answer)
        XCTAssertNotNil(idle.secondsUntilClosed(limit: Self.idleTimeout * 5).seconds, "an idle keep-alive connection is closed")

        // A queued job (no worker) streams keep-alives every 2 s: the stream outlives the timeout.
        let token = try stack.token()
        let queued = try upload(token)
        XCTAssertEqual(queued.status, 202)
        let id = try XCTUnwrap(TestStack.object(queued)["job_id"] as? String)
        let sse = try RawHTTPConnection(port: port)
        try sse.send("GET /jobs/\(id)/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n")
        var received = ""
        let start = Date()
        while Date().timeIntervalSince(start) < Self.idleTimeout * 3 {
            switch sse.read(timeout: 0.5) {
            case .data(let text): received += text
            case .closed: return XCTFail("the SSE stream was cut after \(Date().timeIntervalSince(start)) s: \(received)")
            case .timedOut: break
            }
        }
        XCTAssertTrue(received.contains("event: progress"), received)
        XCTAssertTrue(received.contains(": keep-alive"), received)
        XCTAssertEqual(try stack.call("DELETE", "/jobs/\(id)", token: token).status, 200)
        let deadline = Date().addingTimeInterval(10)
        while !received.contains("event: cancelled"), Date() < deadline {
            if case .data(let text) = sse.read(timeout: 0.5) { received += text }
        }
        XCTAssertTrue(received.contains("event: cancelled"), "the stream still delivers the end: \(received)")

        // An upload that keeps sending, slowly, for three times the timeout is not cut.
        let fixture = try Data(contentsOf: URL(fileURLWithPath: TestStack.fixtureBackup))
        let boundary = "b0undary-\(UUID().uuidString)"
        var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"dry_run\"\r\n\r\ntrue\r\n".utf8)
        body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.json\"\r\n".utf8)
        body += Data("Content-Type: application/json\r\n\r\n".utf8) + fixture + Data("\r\n--\(boundary)--\r\n".utf8)
        let slow = try RawHTTPConnection(port: port)
        try slow.send(
            "POST /admin/restore HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                + "Content-Type: multipart/form-data; boundary=\(boundary)\r\nContent-Length: \(body.count)\r\n\r\n")
        let pieces = 12
        let uploadStart = Date()
        for i in 0..<pieces {
            let range = (body.count * i / pieces)..<(body.count * (i + 1) / pieces)
            try slow.send(body.subdata(in: range))
            usleep(500_000)
        }
        let uploadSeconds = Date().timeIntervalSince(uploadStart)
        XCTAssertGreaterThan(uploadSeconds, Self.idleTimeout * 2.5)
        XCTAssertGreaterThan(uploadSeconds, Self.requestTimeout, "the upload outlasts http_request_timeout_s: uploads are exempt")
        guard case .data(let uploadAnswer) = slow.read(timeout: 10) else { return XCTFail("the slow upload was cut") }
        XCTAssertTrue(uploadAnswer.hasPrefix("HTTP/1.1 202"), uploadAnswer)
        let slowJob = try XCTUnwrap(
            uploadAnswer.range(of: #"[0-9a-f]{8}-[0-9a-f-]{27}"#, options: .regularExpression).map { String(uploadAnswer[$0]) })
        XCTAssertEqual(try stack.call("DELETE", "/jobs/\(slowJob)", token: token).status, 200)

        // A backup download that takes longer than the timeout (a slowed worker) is not cut.
        try stack.loadSample(concepts: 20, ontologies: 2, dimensions: 4)
        try stack.startWorker("slow")
        try stack.login()
        let downloadStart = Date()
        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        let downloadSeconds = Date().timeIntervalSince(downloadStart)
        XCTAssertEqual(backup.exitCode, 0, backup.summary + stack.logs)
        XCTAssertGreaterThan(downloadSeconds, Self.idleTimeout * 1.5, "the backup must outlast the idle timeout to show anything")
        print(
            "LimitTests: slow upload \(String(format: "%.1f", uploadSeconds)) s and backup download \(String(format: "%.1f", downloadSeconds)) s survived http_idle_timeout_s = \(Self.idleTimeout)"
        )
    }
}

/// Results collected from concurrent threads.
final class ConcurrentResults: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [Int] = []
    func append(_ value: Int) { lock.lock(); items.append(value); lock.unlock() }
    var values: [Int] { lock.lock(); defer { lock.unlock() }; return items }
}

/// Hands a connection to one other thread (each thread uses its own).
final class ConnectionBox: @unchecked Sendable {
    let connection: PGConnection
    init(_ connection: PGConnection) { self.connection = connection }
}
