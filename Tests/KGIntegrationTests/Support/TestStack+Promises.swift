import Foundation
import KGBroker
import KGClient
import KGDatabase
import XCTest

/// Small reads and actions the promise tests share: one value from SQL, a job row
/// as the API shows it, a backup through the real CLI, the dead-letter queue.
extension TestStack {
    /// The first column of the first row of `sql` (nil when there is none), on a connection of its own.
    func scalar(_ sql: String, _ parameters: [String?] = []) throws -> String? {
        let db = try db()
        defer { db.close() }
        return try db.query(sql, parameters).rows.first?.first ?? nil
    }

    /// Runs `sql` (one or more statements) on a connection of its own.
    func execute(_ sql: String) throws {
        let db = try db()
        defer { db.close() }
        try db.execute(sql)
    }

    /// The job as `GET /jobs/{id}` shows it, read from its row.
    func jobRow(_ id: String) throws -> [String: Any] {
        let db = try db()
        defer { db.close() }
        guard let text = try JobStore(db).json(jobID: id),
            let job = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        else {
            throw StackError("no job \(id)")
        }
        return job
    }

    func stage(_ id: String) throws -> String? { (try jobRow(id)["progress"] as? [String: Any])?["stage"] as? String }

    /// Whether the job's data session (`kgw:<job>:data`) is waiting for a lock a test session holds.
    func dataSessionWaitsForALock(_ id: String) throws -> Bool {
        try scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
            ["kgw:\(id):data"]) == "1"
    }

    /// Whether the job's data session has ended (its transaction committed or rolled back).
    func dataSessionEnded(_ id: String) throws -> Bool {
        try scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", ["kgw:\(id):data"]) == "0"
    }

    /// `kg admin backup ARGS` through the real CLI; the saved path.
    func backupWithCLI(_ arguments: [String] = ["--type", "full"], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try kg(["admin", "backup"] + arguments)
        XCTAssertEqual(r.exitCode, 0, r.summary + logs, file: file, line: line)
        guard r.exitCode == 0 else { throw StackError("backup failed: \(r.summary)") }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A JSON request with the admin's token; the status and the JSON answer.
    func adminCall(_ method: String, _ path: String, json: String? = nil) throws -> (status: Int, json: [String: Any]) {
        let r = try HTTPClient(baseURL: apiURL, token: try token()).request(method: method, path: path, json: json.map { Data($0.utf8) })
        return (r.status, Self.object(r))
    }

    /// Messages in the dead-letter queue (`<prefix>.jobs.dead`); they are purged by counting.
    func purgeDeadLetters() throws -> Int {
        let connection = try AMQPConnection(url: try AMQPURL(amqpURL), heartbeatSeconds: 0)
        defer { connection.close() }
        return try connection.purgeQueue(JobTopology(prefix: prefix).deadLetterQueue)
    }

    /// Files in temp storage that are checkpoints.
    func checkpointFiles() -> [String] { tempFiles().filter { $0.hasPrefix(".checkpoint_") } }

    /// Files in the CLI's backup_dir (partial downloads included).
    func backupDirFiles() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: backupDir)) ?? []).sorted() }

    /// An instance that evidences no concept, and a concept no instance mentions with one edge:
    /// exactly what a prune removes from a graph that had nothing to prune.
    func addPrunableRows() throws {
        try execute(
            """
            INSERT INTO kg.instances (instance_id, quote, source_id) SELECT 'orphan_instance', 'no concept', min(source_id) FROM kg.sources;
            INSERT INTO kg.concepts (concept_id, label) VALUES ('orphan_concept', 'mentioned by no source');
            INSERT INTO kg.relationships (from_concept_id, to_concept_id, relationship_type)
                SELECT 'orphan_concept', min(concept_id), 'IMPLIES' FROM kg.evidence;
            """)
    }
}

/// A database session of a test that holds a row lock (`SELECT … FOR UPDATE` in an open
/// transaction) so that a worker's statement on that row waits: the job stops mid-operation
/// until ``release()``.
final class RowLockBlocker {
    let connection: PGConnection

    init(_ stack: TestStack, _ lockingQuery: String, _ parameters: [String?] = []) throws {
        connection = try stack.db()
        try connection.execute("BEGIN")
        let locked = try connection.query(lockingQuery, parameters).rows.count
        guard locked > 0 else { throw StackError("the blocker locked no row: \(lockingQuery)") }
    }

    func release() {
        _ = try? connection.execute("ROLLBACK")
        connection.close()
    }
}
