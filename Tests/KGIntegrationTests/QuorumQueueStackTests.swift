import Foundation
import KGBroker
import XCTest

/// The whole system with `broker_queue_type: quorum` (as compose runs it): gateways and
/// workers declare a quorum job queue, and backups and restores run through it.
final class QuorumQueueStackTests: XCTestCase {
    func testBackupAndRestoreThroughAQuorumJobQueue() throws {
        let stack = try TestStack(workers: 1, environment: ["KG_BROKER_QUEUE_TYPE": "quorum"])
        defer { stack.stop() }
        try stack.loadSample(concepts: 30, ontologies: 2, dimensions: 8)
        try stack.login()

        // The queue really is a quorum queue: a classic declaration of it is refused.
        let connection = try AMQPConnection(url: try AMQPURL(stack.amqpURL), heartbeatSeconds: 0)
        defer { connection.close() }
        XCTAssertThrowsError(try JobTopology(prefix: stack.prefix, queueType: "classic").declare(on: connection)) {
            XCTAssertTrue("\($0)".contains("PRECONDITION_FAILED"), "\($0)")
        }

        let backup = try stack.kg(["admin", "backup", "--type", "full"])
        XCTAssertEqual(backup.exitCode, 0, backup.summary + stack.logs)
        let file = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let before = try stack.graphChecksum()
        try stack.db().execute("DELETE FROM kg.relationships; UPDATE kg.concepts SET label = 'x'")
        let restore = try stack.kg(["admin", "restore", file, "--yes"])
        XCTAssertEqual(restore.exitCode, 0, restore.summary + stack.logs)
        XCTAssertEqual(try stack.graphChecksum(), before)
    }
}
