import Foundation
import XCTest

extension TestStack {
    /// The fingerprint of this stack's graph (see ``GraphFingerprint``).
    func fingerprint(_ scope: GraphFingerprint.Scope = .exact) throws -> GraphFingerprint {
        let db = try db()
        defer { db.close() }
        return try GraphFingerprint(db, scope: scope)
    }

    /// Fails unless every table of the graph equals `expected`, naming the tables that differ.
    func assertGraph(
        equals expected: GraphFingerprint, _ message: String, scope: GraphFingerprint.Scope = .exact,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let now = try fingerprint(scope)
        XCTAssertEqual(now, expected, "\(message): \(now.differences(from: expected))", file: file, line: line)
    }
}
