import Foundation
import KGClient
import XCTest

/// Issue 14, finding 5: `POST /admin/stitch` streams its body to temp storage
/// (`stitch_<job>.json`, owned by the job) and checks it on the way with one
/// reference in memory, instead of collecting, copying, decoding and re-encoding
/// up to 256 MB into the job row.
final class StitchBodyTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    /// Peak resident memory of a process (`VmHWM`), in bytes.
    private static func peakRSS(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// Writes a stitch request of `count` references with `dimensions`-long embeddings; returns its size.
    private static func writeRequest(_ path: String, count: Int, dimensions: Int) throws -> Int {
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        defer { try? handle.close() }
        let embedding = (0..<dimensions).map { String(format: "%.15f", sin(Double($0))) }.joined(separator: ",")
        var size = 0
        func write(_ text: String) throws {
            let data = Data(text.utf8)
            size += data.count
            try handle.write(contentsOf: data)
        }
        try write(#"{"dry_run": true, "references": ["#)
        var chunk = ""
        for i in 0..<count {
            chunk += (i == 0 ? "\n" : ",\n") + #"{"concept_id": "ref_\#(i)", "label": "Reference \#(i)", "embedding": [\#(embedding)]}"#
            if chunk.utf8.count > 1 << 20 {
                try write(chunk)
                chunk = ""
            }
        }
        try write(chunk + "\n]}\n")
        return size
    }

    /// POSTs a file as the stitch body with curl (streamed from disk); returns (status, body).
    private func postFile(_ path: String, token: String) throws -> (status: Int, body: String) {
        let out = stack.root + "/stitch-answer.json"
        let r = try runCommand(
            "/usr/bin/curl",
            [
                "-sS", "-o", out, "-w", "%{http_code}", "-X", "POST", "-T", path,
                "-H", "Content-Type: application/json", "-H", "Expect:",
                "-H", "Authorization: Bearer \(token)", stack.apiURL + "/admin/stitch",
            ],
            environment: ["PATH": "/usr/bin:/bin"])
        return (
            Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1,
            (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        )
    }

    func testLargeStitchBodyStreamsAndTheJobOwnsItsFile() throws {
        stack = try TestStack(workers: 1)
        let token = try stack.token()
        let request = stack.root + "/stitch-request.json"
        let size = try Self.writeRequest(request, count: 4_000, dimensions: 1536)
        let pid = stack.gateways[0].pid
        let before = Self.peakRSS(pid)
        let started = Date()
        let (status, body) = try postFile(request, token: token)
        let seconds = Date().timeIntervalSince(started)
        let after = Self.peakRSS(pid)
        XCTAssertEqual(status, 202, body + stack.logs)
        let accepted = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        let id = try XCTUnwrap(accepted["job_id"] as? String)
        print(
            "StitchBodyTests: a \(size)-byte stitch request (4,000 references × 1,536 dimensions) accepted in "
                + "\(String(format: "%.2f", seconds)) s; gateway peak RSS \(before / 1_048_576) MiB → \(after / 1_048_576) MiB "
                + "(+\((after - before) / 1_048_576) MiB)")
        XCTAssertLessThan(after - before, size / 4, "the gateway holds the body instead of streaming it")

        // The job row names the file and the count; it holds no references itself.
        let text = try XCTUnwrap(try stack.scalar("SELECT params::text FROM kg_api.jobs WHERE job_id = $1::uuid", [id]))
        let params = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
        XCTAssertEqual(params["reference_count"] as? Int, 4_000)
        XCTAssertEqual((params["references"] as? [Any])?.count, 0)
        XCTAssertTrue((params["references_file"] as? String ?? "").hasSuffix("/stitch_\(id).json"), "\(params)")

        // The stitch runs (nothing is waiting, a dry run) and its file goes with it.
        let job = try stack.waitForJob(id)
        XCTAssertEqual(job["status"] as? String, "completed", "\(job)" + stack.logs)
        try stack.waitUntil(10, "the stitch request's file is removed") { stack.tempFiles().isEmpty }
    }

    func testMalformedStitchBodiesAreRefusedNamingTheProblem() throws {
        stack = try TestStack(workers: 0, environment: ["KG_MAX_STITCH_BYTES": String(1 << 20), "KG_JANITOR_INTERVAL": "1"])
        let token = try stack.token()
        let cases: [(body: String, error: String, detail: String?)] = [
            (#"{"references": [{"concept_id": "a"}, {"concept_id": "b""#, "ends early (truncated) in references[1]", nil),
            (
                #"{"references": [{"concept_id": "a"}, {"label": "x"}]}"#, "references[1].concept_id must be a string: missing",
                "references[1].concept_id"
            ),
            (
                #"{"references": [{"concept_id": "a", "embedding": [0.5, "x"]}]}"#, "references[0].embedding[1] must be a finite number",
                "references[0].embedding[1]"
            ),
            (
                #"{"references": [{"concept_id": "a", "embedding": [1e999]}]}"#, "references[0].embedding[0] must be a finite number, not 1e999",
                "references[0].embedding[0]"
            ),
            (#"{"references": [{"concept_id": "a", "label": 7}]}"#, "references[0].label must be a string or null", "references[0].label"),
            (#"{"references": {"concept_id": "a"}}"#, "references must be an array of objects, not an object", "references"),
            (#"{"references": ["a"]}"#, "references[0] must be an object", "references[0]"),
            (#"{"dry_run": "yes"}"#, "dry_run must be true or false, not a string", "dry_run"),
            (#"{"threshold": "high"}"#, "threshold must be a number, not a string", "threshold"),
            (#"[{"concept_id": "a"}]"#, "the body is not a JSON object", nil),
            (#"{"references": []} {"#, "unexpected data after the JSON object", nil),
            (#"{"references": [{"concept_id": "a\u0000"}]}"#, "references[0].concept_id holds the character U+0000", "references[0].concept_id"),
        ]
        for (body, error, detail) in cases {
            let r = try stack.call("POST", "/admin/stitch", token: token, json: body)
            let object = TestStack.object(r)
            XCTAssertEqual(r.status, 400, body + ": " + String(decoding: r.body, as: UTF8.self))
            XCTAssertTrue((object["error"] as? String ?? "").contains(error), body + ": \(object)")
            if let detail { XCTAssertEqual(object["detail"] as? String, detail, body + ": \(object)") }
        }

        // Compressed bodies are not taken (no decompression to bound); too large ones are refused before or while read.
        let gzip = try stack.call("POST", "/admin/stitch", token: token, json: "{}", headers: ["Content-Encoding": "gzip"])
        XCTAssertEqual(gzip.status, 415, String(decoding: gzip.body, as: UTF8.self))
        let big = #"{"references": [{"concept_id": "a", "label": ""# + String(repeating: "x", count: 1 << 20) + #""}]}"#
        let declared = try stack.call("POST", "/admin/stitch", token: token, json: big)
        XCTAssertEqual(declared.status, 413, String(decoding: declared.body, as: UTF8.self))
        XCTAssertTrue((TestStack.object(declared)["detail"] as? String ?? "").contains("max_stitch_bytes"))
        let raw = try RawHTTPConnection(port: stack.gatewayPorts[0])
        try raw.send(
            "POST /admin/stitch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n"
                + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        let piece = String(repeating: " ", count: 256 * 1024)
        var answer = ""
        for _ in 0..<8 {
            try? raw.send(String(piece.utf8.count, radix: 16) + "\r\n" + piece + "\r\n")
            if case .data(let text) = raw.read(timeout: 0.2) { answer += text; break }
        }
        if answer.isEmpty, case .data(let text) = raw.read(timeout: 5) { answer = text }
        XCTAssertTrue(answer.hasPrefix("HTTP/1.1 413"), answer)

        // Nothing stays behind: no job, no temp file; the refusals are audited.
        XCTAssertEqual(try stack.jobCount(), 0)
        XCTAssertEqual(stack.tempFiles(), [])
        let refusals = try stack.auditRows(actor: "admin", action: "stitch").filter { ($0["outcome"] ?? nil) == "refused" }
        XCTAssertGreaterThanOrEqual(refusals.count, cases.count + 2)

        // A valid small request is still accepted, and an empty body means "ids only".
        let withReferences = try stack.call(
            "POST", "/admin/stitch", token: token,
            json: #"{"references": [{"concept_id": "a", "label": null, "embedding": [0.5, -1]}], "dry_run": true}"#)
        XCTAssertEqual(withReferences.status, 202)
        XCTAssertEqual(try stack.call("POST", "/admin/stitch", token: token, json: nil).status, 202)
        let id = try XCTUnwrap(TestStack.object(withReferences)["job_id"] as? String)
        XCTAssertEqual(stack.tempFiles(), ["stitch_\(id).json"], "the queued job with references owns its file")

        // A job cancelled before any worker took it: the janitor removes its file (no owner left).
        XCTAssertEqual(try stack.call("DELETE", "/jobs/\(id)", token: token).status, 200)
        try stack.waitUntil(20, "the cancelled stitch's file is removed") { stack.tempFiles().isEmpty }
    }
}
