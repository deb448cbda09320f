import Foundation
import KGClient
import XCTest

/// Issue 14, finding 8: the gateway's blocking file-system calls run on NIO's thread
/// pool, not on the cooperative pool that every request handler needs. A stalled
/// volume (NFS) is staged with FIFOs: `open(2)` of a FIFO for reading blocks until a
/// writer comes, as an open on a hung NFS mount does. Kept checkpoints whose files are
/// such FIFOs are downloaded by more clients than the machine has cores; the gateway
/// must keep answering others meanwhile.
final class BlockingFileCallTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    func testRequestsAreAnsweredWhileFileCallsHang() throws {
        stack = try TestStack(workers: 0)
        let token = try stack.token()
        let stalled = stack.root + "/stalled-volume"
        try FileManager.default.createDirectory(atPath: stalled, withIntermediateDirectories: true)
        let hanging = 2 * ProcessInfo.processInfo.activeProcessorCount + 2
        var fifos: [String] = []
        for i in 0..<hanging {
            let path = "\(stalled)/checkpoint_\(i).json"
            XCTAssertEqual(mkfifo(path, 0o600), 0)
            let id = UUID().uuidString.lowercased()
            try stack.execute(
                """
                INSERT INTO kg_api.checkpoints (checkpoint_id, job_id, job_type, username, file_name, path, status, kept_at)
                VALUES ('\(id)', '\(UUID().uuidString.lowercased())', 'prune', 'admin', 'checkpoint_\(i).json', '\(path)', 'kept', now())
                """)
            fifos.append(path)
            let apiURL = stack.apiURL
            Thread.detachNewThread {
                _ = try? HTTPClient(baseURL: apiURL, token: token, requestTimeout: 60).request(method: "GET", path: "/admin/checkpoints/\(id)")
            }
        }
        // Each download's open(2) now hangs in the gateway; let them all get there.
        Thread.sleep(forTimeInterval: 1.5)
        var probes: [Double] = []
        var answered = 0
        for _ in 0..<5 {
            let started = Date()
            let health = try? HTTPClient(baseURL: stack.apiURL, token: nil, connectTimeout: 2, requestTimeout: 2)
                .request(method: "GET", path: "/healthz")
            probes.append(Date().timeIntervalSince(started))
            if health?.status == 200 { answered += 1 }
            let jobs = try? HTTPClient(baseURL: stack.apiURL, token: token, connectTimeout: 2, requestTimeout: 2)
                .request(method: "GET", path: "/jobs")
            if jobs?.status == 200 { answered += 1 }
        }
        // Release the hung opens: a writer on each FIFO (then EOF).
        for path in fifos {
            let fd = open(path, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        print(
            "BlockingFileCallTests: \(hanging) checkpoint downloads hung in open(2) on FIFOs; "
                + "\(answered) of 10 other requests answered, /healthz in \(probes.map { String(format: "%.3f", $0) }.joined(separator: ", ")) s")
        XCTAssertEqual(answered, 10, "requests stalled behind hanging file calls")
        XCTAssertLessThan(probes.max() ?? 99, 1.0)
    }
}
