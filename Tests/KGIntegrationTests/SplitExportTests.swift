import Foundation
import KGDatabase
import XCTest

/// A full backup's concepts exported in pieces on two connections at once
/// (`backup_split_min_concepts`, `SplitExport`) make the very file one connection makes: same
/// records, same order, same bytes, long values (fetched in pieces by a connection of their
/// own) included on both connections, and the spools in temp storage are gone afterwards.
final class SplitExportTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    /// Backs up with one worker started with `environment`, stops it, returns the file's bytes.
    private func backup(worker id: String, environment: [String: String]) throws -> (bytes: [UInt8], log: String) {
        try stack.startWorker(id, environment: environment)
        try stack.waitReady()
        let r = try stack.kg(["admin", "backup", "--type", "full", "--output", stack.root + "/\(id).json"])
        XCTAssertEqual(r.exitCode, 0, r.summary + stack.logs)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: stack.root + "/\(id).json")))
        let log = stack.workers[id]?.log ?? ""
        stack.workers[id]?.stop()
        return (bytes, log)
    }

    /// The header's timestamp is the one thing two backups of one graph may differ in.
    private func withoutTimestamp(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).replacingOccurrences(
            of: #""timestamp":"[^"]*""#, with: #""timestamp":"""#, options: .regularExpression)
    }

    func testTwoConnectionsWriteTheFileOneConnectionWrites() throws {
        stack = try TestStack(workers: 0)
        try stack.loadSample(concepts: 80, ontologies: 2, dimensions: 16)
        let db = try stack.db()
        // A long description (over the 8 MiB that make a value come in pieces) in the first
        // piece (the backup's connection) and in the last (80 concepts: 14 pieces of up to 6,
        // the odd ones, the last among them, formatted by the second connection).
        try db.query(
            """
            UPDATE kg.concepts SET description = repeat('long "value" \\ é ', 600000)
            WHERE concept_id IN ((SELECT min(concept_id) FROM kg.concepts), (SELECT max(concept_id) FROM kg.concepts))
            """)
        db.close()
        try stack.login()

        let split = try backup(worker: "split", environment: ["KG_BACKUP_SPLIT_MIN_CONCEPTS": "2"])
        XCTAssertTrue(split.log.contains("concepts exported on two connections"), "the split path was not taken:\n" + split.log.suffix(2000))
        for part in ["pieces=14", "first_connection=42", "second_connection=38"] {
            XCTAssertTrue(split.log.contains(part), "\(part) not logged:\n" + split.log.suffix(2000))
        }
        let single = try backup(worker: "single", environment: ["KG_BACKUP_SPLIT_MIN_CONCEPTS": "0"])
        XCTAssertFalse(single.log.contains("concepts exported on two connections"))

        XCTAssertGreaterThan(split.bytes.count, 16 << 20, "both long values are in the file")
        XCTAssertEqual(split.bytes.count, single.bytes.count)
        XCTAssertTrue(withoutTimestamp(split.bytes) == withoutTimestamp(single.bytes), "the two files differ")
        XCTAssertEqual(stack.tempFiles(), [], "the spool and the backup file are gone")
        let verify = try stack.kg(["admin", "verify", "--offline", stack.root + "/split.json"])
        XCTAssertEqual(verify.exitCode, 0, verify.summary)
    }
}
