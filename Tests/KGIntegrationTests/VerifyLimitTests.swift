import Foundation
import KGClient
import KGFormat
import XCTest

/// Issue 14, finding 1: `POST /admin/backup/verify` is bounded before its body is
/// read — per user (`max_verifies_per_user`, 429) and per gateway
/// (`max_concurrent_verifies`, 503), both with `Retry-After` — every check is
/// audited, and the checking runs off the cooperative pool, so the gateway keeps
/// answering while checks run.
final class VerifyLimitTests: XCTestCase {
    var stack: TestStack!
    static let readers = ["reader1", "reader2", "reader3"]
    static let password = "reader-pw-1"

    override func setUpWithError() throws {
        stack = try TestStack(workers: 0, environment: ["KG_MAX_VERIFIES_PER_USER": "1", "KG_MAX_CONCURRENT_VERIFIES": "2"])
        for name in Self.readers { try stack.addUser(name, role: "reader", password: Self.password) }
    }

    override func tearDown() {
        stack?.stop()
    }

    private func verify(_ token: String, _ path: String = TestStack.fixtureBackup, name: String = "backup.json") throws -> HTTPResponse {
        try HTTPClient(baseURL: stack.apiURL, token: token, requestTimeout: 120).uploadMultipart(
            path: "/admin/backup/verify", fields: [], fileField: "file", filePath: path, fileName: name,
            contentType: "application/octet-stream")
    }

    /// A verify whose body is half sent: it holds its slot until `finish()` or `close`.
    final class HeldVerify {
        let connection: RawHTTPConnection
        let rest: Data

        init(port: Int, token: String, file: String) throws {
            let content = try Data(contentsOf: URL(fileURLWithPath: file))
            var body = Data("--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"held.json\"\r\n".utf8)
            body += Data("Content-Type: application/json\r\n\r\n".utf8) + content + Data("\r\n--BOUNDARY--\r\n".utf8)
            connection = try RawHTTPConnection(port: port)
            try connection.send(
                "POST /admin/backup/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                    + "Content-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: \(body.count)\r\n\r\n")
            let half = body.count / 2
            try connection.send(body.prefix(half))
            rest = body.suffix(from: half)
            // Let it reach its handler and take its slot before anything else asks (else
            // a check sent at the same moment could take the slot and this one get 429).
            Thread.sleep(forTimeInterval: 0.5)
            guard connection.read(timeout: 0.01) == .timedOut else { throw StackError("the held verify was answered at once") }
        }

        /// Sends the rest; returns the response's head and body.
        func finish() throws -> String {
            try connection.send(rest)
            var received = ""
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                guard case .data(let text) = connection.read(timeout: 5) else { break }
                received += text
                if received.contains("\r\n\r\n"), received.hasSuffix("}") { break }
            }
            return received
        }
    }

    /// Asks until the answer has `status` (the held request reaches its handler a moment after its head).
    private func waitForStatus(_ status: Int, _ token: String) throws -> HTTPResponse {
        var last: HTTPResponse?
        try stack.waitUntil(10, "a verify answered \(status)") {
            last = try verify(token)
            if last?.status != status { Thread.sleep(forTimeInterval: 0.2) }
            return last?.status == status
        }
        return try XCTUnwrap(last)
    }

    /// Seconds /healthz took to answer (fails the test past `limit`).
    private func probe(limit: Double = 1) throws -> Double {
        let started = Date()
        let r = try HTTPClient(baseURL: stack.apiURL, token: nil, connectTimeout: limit, requestTimeout: limit)
            .request(method: "GET", path: "/healthz")
        XCTAssertEqual(r.status, 200)
        return Date().timeIntervalSince(started)
    }

    func testPerUserAndGatewayLimitsWithRetryAfterAndAudit() throws {
        let port = stack.gatewayPorts[0]
        let tokens = try Self.readers.map { try stack.token($0, password: Self.password) }

        // reader1 holds one check: its next ones are refused (429) before their bodies are read.
        let held1 = try HeldVerify(port: port, token: tokens[0], file: TestStack.fixtureBackup)
        let refused = try waitForStatus(429, tokens[0])
        XCTAssertEqual(refused.headers["retry-after"], "5")
        let object = TestStack.object(refused)
        XCTAssertTrue((object["error"] as? String ?? "").contains("max_verifies_per_user = 1"), "\(object)")
        let detail = try XCTUnwrap(object["detail"] as? [String: Any], "\(object)")
        XCTAssertEqual(detail["limit"] as? Int, 1)
        XCTAssertEqual(detail["retry_after_s"] as? Int, 5)

        // A flood from the same reader: every one refused with Retry-After; the gateway still answers.
        let statuses = ConcurrentResults()
        let retryAfter = ConcurrentResults()
        let apiURL = stack.apiURL
        let token = tokens[0]
        DispatchQueue.concurrentPerform(iterations: 12) { _ in
            let r = try? HTTPClient(baseURL: apiURL, token: token).uploadMultipart(
                path: "/admin/backup/verify", fields: [], fileField: "file", filePath: TestStack.fixtureBackup,
                fileName: "f.json", contentType: "application/json")
            statuses.append(r?.status ?? -1)
            retryAfter.append(Int(r?.headers["retry-after"] ?? "") ?? -1)
        }
        XCTAssertEqual(statuses.values, Array(repeating: 429, count: 12))
        XCTAssertEqual(retryAfter.values, Array(repeating: 5, count: 12))
        let probeSeconds = try probe()

        // reader2 takes the second slot; the gateway-wide cap (2) then refuses reader3 with 503.
        let held2 = try HeldVerify(port: port, token: tokens[1], file: TestStack.fixtureBackup)
        let busy = try waitForStatus(503, tokens[2])
        XCTAssertEqual(busy.headers["retry-after"], "5")
        XCTAssertTrue(
            (TestStack.object(busy)["error"] as? String ?? "").contains("max_concurrent_verifies = 2"),
            String(decoding: busy.body, as: UTF8.self))

        // The held check completes with its report; a client that leaves mid-body gives its slot back.
        let answer = try held1.finish()
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200"), answer)
        XCTAssertTrue(answer.contains("\"valid\":true"), answer)
        shutdown(held2.connection.fd, Int32(SHUT_RDWR))
        let accepted = try waitForStatus(200, tokens[2])
        XCTAssertEqual(TestStack.object(accepted)["valid"] as? Bool, true)
        XCTAssertEqual(try verify(tokens[0]).status, 200, "reader1's slot is free again")

        // Every check and every refusal is audited.
        let rows = try stack.auditRows(action: "backup.verify")
        func count(_ actor: String, _ outcome: String, _ text: String) -> Int {
            rows.filter {
                ($0["actor"] ?? nil) == actor && ($0["outcome"] ?? nil) == outcome
                    && ((($0["detail"] ?? nil) ?? "").contains(text))
            }.count
        }
        XCTAssertGreaterThanOrEqual(count("reader1", "completed", "valid"), 2, "\(rows)")
        XCTAssertGreaterThanOrEqual(count("reader1", "refused", "429"), 13, "\(rows)")
        XCTAssertGreaterThanOrEqual(count("reader3", "refused", "503"), 1, "\(rows)")
        XCTAssertGreaterThanOrEqual(count("reader3", "completed", "valid"), 1, "\(rows)")
        XCTAssertTrue(rows.allSatisfy { ($0["remote_address"] ?? nil) != nil }, "\(rows)")
        print(
            "VerifyLimitTests: 12 parallel verifies from one reader holding its slot: \(statuses.values.filter { $0 == 429 }.count) × 429; "
                + "/healthz meanwhile in \(String(format: "%.3f", probeSeconds)) s")
    }

    /// Three readers flood the gateway with checks of a small gzip that inflates to
    /// 100,000 unique concept ids: the limits hold (at most 2 run at once: the others
    /// get 429 or 503 with Retry-After) and a probe is answered within 1 s throughout.
    func testFloodOfHeavyChecksLeavesTheGatewayResponsive() throws {
        let file = try Self.manyIDsGzip(at: stack.root + "/many-ids.json.gz", concepts: 100_000)
        let size = (try FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0
        let tokens = try Self.readers.map { try stack.token($0, password: Self.password) }
        let single = Date()
        XCTAssertEqual(try verify(tokens[0], file, name: "many-ids.json.gz").status, 200)
        let singleSeconds = Date().timeIntervalSince(single)

        let statuses = ConcurrentResults()
        let apiURL = stack.apiURL
        let floodEnds = Date().addingTimeInterval(max(8, singleSeconds * 3))
        let flood = DispatchGroup()
        for index in 0..<12 {
            let token = tokens[index % tokens.count]
            DispatchQueue.global().async(group: flood) {
                while Date() < floodEnds {
                    let r = try? HTTPClient(baseURL: apiURL, token: token, requestTimeout: 120).uploadMultipart(
                        path: "/admin/backup/verify", fields: [], fileField: "file", filePath: file, fileName: "many-ids.json.gz",
                        contentType: "application/gzip")
                    statuses.append(r.map { $0.headers["retry-after"] == nil && $0.status != 200 ? -$0.status : $0.status } ?? -1)
                    if r?.status != 200 { Thread.sleep(forTimeInterval: 0.05) }
                }
            }
        }
        var probes: [Double] = []
        while Date() < floodEnds {
            probes.append(try probe())
            Thread.sleep(forTimeInterval: 0.1)
        }
        flood.wait()
        let values = statuses.values
        XCTAssertTrue(values.allSatisfy { [200, 429, 503].contains($0) }, "every answer is a report, or a refusal with Retry-After: \(values)")
        XCTAssertGreaterThan(values.filter { $0 == 429 }.count, 0, "\(values)")
        XCTAssertGreaterThan(values.filter { $0 == 200 }.count, 0, "\(values)")
        XCTAssertLessThan(probes.max() ?? 99, 1.0)
        let sorted = probes.sorted()
        print(
            "VerifyLimitTests: flood of \(values.count) checks of a \(size)-byte gzip (100,000 unique ids; one alone \(String(format: "%.2f", singleSeconds)) s) "
                + "from 3 readers × 4 clients: \(values.filter { $0 == 200 }.count) × 200, \(values.filter { $0 == 429 }.count) × 429, "
                + "\(values.filter { $0 == 503 }.count) × 503; /healthz \(probes.count) probes, median \(String(format: "%.3f", sorted[sorted.count / 2])) s, "
                + "max \(String(format: "%.3f", sorted.last ?? 0)) s")
    }

    /// A full backup (the fixture's head) whose concepts section holds `concepts` records with unique ids, gzipped.
    static func manyIDsGzip(at path: String, concepts: Int) throws -> String {
        let lines = try String(contentsOfFile: TestStack.fixtureBackup, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("\"concepts\":[") }) else { throw StackError("fixture without concepts") }
        let record = lines[start + 1].hasSuffix(",") ? String(lines[start + 1].dropLast()) : String(lines[start + 1])
        let compressor = try GzipCompressor(level: 6)
        var out = compressor.compress(Array((lines[...start].joined(separator: "\n") + "\n").utf8))
        var chunk: [UInt8] = []
        for i in 0..<concepts {
            let line = record.replacingOccurrences(of: "\"concept_000000\"", with: String(format: "\"flood_%07d\"", i))
            chunk.append(contentsOf: (i == 0 ? "" : ",\n").utf8)
            chunk.append(contentsOf: line.utf8)
            if chunk.count > 1 << 20 {
                out += compressor.compress(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        chunk.append(contentsOf: "\n]}}\n".utf8)
        out += compressor.compress(chunk) + compressor.finish()
        FileManager.default.createFile(atPath: path, contents: Data(out))
        return path
    }
}
