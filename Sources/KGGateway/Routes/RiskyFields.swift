import Foundation
import KGDatabase

/// The options every risky operation takes (`checkpoint`, `keep_checkpoint`,
/// `no_wait`), and the `no_wait` check: 409 at once when another risky
/// operation holds the graph lock (the worker checks again, for races).
enum RiskyFields {
    /// A boolean field: true/1/yes, false/0/no, or nil when absent or empty.
    static func flag(_ fields: [String: String], _ name: String) throws -> Bool? {
        guard let text = fields[name]?.lowercased(), !text.isEmpty else { return nil }
        if ["true", "1", "yes"].contains(text) { return true }
        if ["false", "0", "no"].contains(text) { return false }
        throw APIError.badRequest("\(name) must be true or false, got \"\(text)\"")
    }

    /// 409 naming the operation that holds the graph lock, if any.
    static func refuseIfBusy(pool: PGPool, operation: String) async throws {
        let holder = try await pool.run { db in try GraphLock(db).holder() }
        if let holder {
            throw APIError(
                .conflict, "another risky operation is running: \(holder)",
                detail:
                    "this \(operation) was not started (no_wait); nothing was changed. Try again when it has finished, or leave out --no-wait to queue behind it"
            )
        }
    }
}
