import Foundation
import KGDatabase

/// PostgreSQL's own record of what the gateway sends: `log_statement = all` for the
/// stack's database only (a per-database setting on the shared server, dropped with
/// the database), read from the server's log (`$KG_STATE_DIR/logs/postgres.log`) from
/// the moment it was switched on. Each statement appears with its bind parameters.
struct StatementLog {
    let path: String
    let offset: Int

    /// The log written since the start.
    func text() -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: UInt64(offset))
        return String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
    }

    /// Waits (up to 10 s: the server writes its log asynchronously) until `marker` is logged; the text then.
    func text(waitingFor marker: String) -> String {
        let deadline = Date().addingTimeInterval(10)
        var log = text()
        while !log.contains(marker) && Date() < deadline {
            usleep(200_000)
            log = text()
        }
        return log
    }

    /// Runs a query that carries `marker` on a new connection to the stack's database: once it
    /// is in the log, everything sent before it is too, and the log being read is the right one.
    func mark(_ stack: TestStack) throws -> String {
        let marker = "kg-log-marker-\(UUID().uuidString)"
        let db = try stack.db()
        defer { db.close() }
        try db.query("SELECT $1::text", [marker])
        return marker
    }

    static func serverLogPath() throws -> String {
        let state =
            TestEnvironment.env["KG_STATE_DIR"].flatMap { $0.isEmpty ? nil : $0 }
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".kg-local").path
        let path = URL(fileURLWithPath: state).resolvingSymlinksInPath().path + "/logs/postgres.log"
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw MissingTestSetup.missing("KG_STATE_DIR (no readable PostgreSQL log at \(path))")
        }
        return path
    }
}

extension TestStack {
    /// Switches `log_statement = all` on for this stack's database and restarts gateway 0
    /// (its pooled connections read the setting when they open).
    func logStatements() throws -> StatementLog {
        let path = try StatementLog.serverLogPath()
        let admin = try PGConnection(url: try TestEnvironment.adminDatabaseURL(), applicationName: "kg-tests")
        let database = String(URLComponents(string: databaseURL)?.path.dropFirst() ?? "")
        try admin.execute("ALTER DATABASE \(database) SET log_statement = 'all'")
        admin.close()
        let offset = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        gateways[0].stop()
        try restartGateway(0)
        return StatementLog(path: path, offset: offset)
    }
}
