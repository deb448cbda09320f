import CLibPQ
import Foundation

/// One libpq connection in blocking mode.
///
/// Not thread-safe: a connection belongs to one thread at a time (a worker's job
/// thread, or one slot of ``PGPool``). Blocking calls must never run on Swift's
/// cooperative pool.
///
/// ```swift
/// let db = try PGConnection(url: "postgresql://kg@127.0.0.1:55432/kg")
/// let rows = try db.query("SELECT status FROM kg_api.jobs WHERE job_id = $1::uuid", [jobID])
/// ```
public final class PGConnection {
    private var conn: OpaquePointer?
    public let url: String

    public init(url: String, applicationName: String = "kg") throws {
        self.url = url
        guard !url.utf8.contains(0) else {
            throw PGError(sqlState: "08001", "the PostgreSQL connection URL holds the character U+0000")
        }
        let withName = url.contains("?") ? "\(url)&application_name=\(applicationName)" : "\(url)?application_name=\(applicationName)"
        guard let conn = PQconnectdb(withName) else {
            throw PGError("cannot allocate a PostgreSQL connection")
        }
        if PQstatus(conn) != CONNECTION_OK {
            let message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(conn)
            throw PGError(sqlState: "08001", "cannot connect to PostgreSQL at \(PGConnection.redacted(url)): \(message)")
        }
        self.conn = conn
        // Timestamps in backups are UTC; float8 output stays shortest-exact.
        _ = try execute("SET TimeZone = 'UTC'")
        _ = try execute("SET extra_float_digits = 1")
    }

    deinit { close() }

    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// The URL (PostgreSQL, AMQP, any) with its password replaced by `***`, for
    /// messages and logs: the userinfo password, a `password=` query parameter,
    /// or a libpq key/value `password=` setting ("host=db password=…").
    public static func redacted(_ url: String) -> String {
        guard url.contains("://") else {
            return url.split(separator: " ", omittingEmptySubsequences: false).map { part -> String in
                let pair = part.split(separator: "=", maxSplits: 1)
                return pair.count == 2 && pair[0].lowercased() == "password" ? "\(pair[0])=***" : String(part)
            }.joined(separator: " ")
        }
        if var components = URLComponents(string: url) {
            if components.password != nil { components.password = "***" }
            if let items = components.queryItems, items.contains(where: { $0.name.lowercased() == "password" }) {
                components.queryItems = items.map { $0.name.lowercased() == "password" ? URLQueryItem(name: $0.name, value: "***") : $0 }
            }
            return components.string ?? url
        }
        // Not parsable as a URL: cut the userinfo's password by hand.
        if let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@"),
            let colon = url[scheme.upperBound..<at].firstIndex(of: ":")
        {
            return String(url[...colon]) + "***" + String(url[at...])
        }
        return url
    }

    public var isOK: Bool {
        guard let conn else { return false }
        return PQstatus(conn) == CONNECTION_OK
    }

    /// Whether a transaction is open (or failed and not yet rolled back).
    public var inTransaction: Bool {
        guard let conn else { return false }
        let status = PQtransactionStatus(conn)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    private func handle() throws -> OpaquePointer {
        guard let conn else { throw PGError(sqlState: "08003", "the PostgreSQL connection is closed") }
        return conn
    }

    private func lastError() -> String {
        guard let conn else { return "connection closed" }
        return String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func error(from res: OpaquePointer?) -> PGError {
        guard let res else { return PGError(sqlState: isOK ? nil : "08006", lastError()) }
        func field(_ code: Character) -> String? {
            PQresultErrorField(res, Int32(code.asciiValue!)).map { String(cString: $0) }
        }
        let state = field("C")
        var message = String(cString: PQresultErrorMessage(res)).trimmingCharacters(in: .whitespacesAndNewlines)
        if message.isEmpty { message = lastError() }
        if message.hasPrefix("ERROR:  ") { message.removeFirst(8) }
        if state == nil, !isOK { return PGError(sqlState: "08006", message) }
        return PGError(sqlState: state, message, table: field("t"), constraint: field("n"))
    }

    /// Runs one statement with text parameters bound as `$1, $2, …` (never spliced into the SQL).
    @discardableResult
    public func query(_ sql: String, _ params: [String?] = []) throws -> PGResult {
        let conn = try handle()
        // libpq takes C strings: a U+0000 would cut the value short ("admin\0x" would bind as
        // "admin"), and PostgreSQL text cannot hold it anyway. Refuse, naming the parameter.
        if let index = params.firstIndex(where: { $0?.utf8.contains(0) == true }) {
            throw PGError.nulInParameter(index + 1)
        }
        let res: OpaquePointer? = withCStrings(params) { values in
            PQexecParams(conn, sql, Int32(params.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(res) }
        let status = res.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else { throw error(from: res) }
        return PGResult(res!)
    }

    /// Runs one or more statements without parameters (migrations, BEGIN/COMMIT).
    @discardableResult
    public func execute(_ sql: String) throws -> PGResult {
        let conn = try handle()
        if sql.utf8.contains(0) { throw PGError(sqlState: PGError.nulSQLState, "the SQL text holds the character U+0000") }
        let res = PQexec(conn, sql)
        defer { PQclear(res) }
        let status = res.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else { throw error(from: res) }
        return PGResult(res!)
    }

    /// Runs `body` inside BEGIN … COMMIT, rolling back when it throws.
    public func transaction<T>(_ begin: String = "BEGIN", _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isOK { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    // MARK: COPY

    /// Streams `COPY … TO STDOUT` to `onData`, one server message at a time; returns
    /// the number of bytes received. Nothing is collected: memory stays flat.
    @discardableResult
    public func copyOut(_ sql: String, onData: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        let conn = try handle()
        if sql.utf8.contains(0) { throw PGError(sqlState: PGError.nulSQLState, "the SQL text holds the character U+0000") }
        let res = PQexec(conn, sql)
        let status = res.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_COPY_OUT else {
            let err = error(from: res)
            PQclear(res)
            throw err
        }
        PQclear(res)
        var total = 0
        var callerError: Error?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(conn, &buffer, 0)
            if n > 0, let buffer {
                defer { PQfreemem(buffer) }
                total += Int(n)
                if callerError == nil {
                    do {
                        try onData(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
                    } catch {
                        // Keep draining so the connection stays usable; report afterwards.
                        callerError = error
                        _ = PQrequestCancel(conn)
                    }
                }
            } else if n == -1 {
                break
            } else {
                let err = PGError(sqlState: isOK ? nil : "08006", lastError())
                drainResults(conn)
                throw callerError ?? err
            }
        }
        // The final command status.
        var failure: PGError?
        while let r = PQgetResult(conn) {
            if PQresultStatus(r) != PGRES_COMMAND_OK { failure = error(from: r) }
            PQclear(r)
        }
        if let callerError { throw callerError }
        if let failure { throw failure }
        return total
    }

    /// Starts `COPY … FROM STDIN`; feed it with ``CopyInWriter/write(_:)`` and end with ``CopyInWriter/finish()``.
    public func copyIn(_ sql: String) throws -> CopyInWriter {
        let conn = try handle()
        if sql.utf8.contains(0) { throw PGError(sqlState: PGError.nulSQLState, "the SQL text holds the character U+0000") }
        let res = PQexec(conn, sql)
        let status = res.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status == PGRES_COPY_IN else {
            let err = error(from: res)
            PQclear(res)
            throw err
        }
        PQclear(res)
        return CopyInWriter(connection: self, conn: conn)
    }

    fileprivate func copyError(_ conn: OpaquePointer) -> PGError {
        PGError(sqlState: isOK ? nil : "08006", lastError())
    }

    fileprivate func finishCopy(_ conn: OpaquePointer) throws {
        var failure: PGError?
        while let r = PQgetResult(conn) {
            if PQresultStatus(r) != PGRES_COMMAND_OK { failure = error(from: r) }
            PQclear(r)
        }
        if let failure { throw failure }
    }

    private func drainResults(_ conn: OpaquePointer) {
        while let r = PQgetResult(conn) { PQclear(r) }
    }
}

/// The sending side of a `COPY … FROM STDIN`, buffered so that libpq sees large writes.
public final class CopyInWriter {
    private let connection: PGConnection
    private let conn: OpaquePointer
    private var buffer: [UInt8] = []
    private let flushAt = 256 * 1024
    private var finished = false
    public private(set) var bytesSent = 0

    fileprivate init(connection: PGConnection, conn: OpaquePointer) {
        self.connection = connection
        self.conn = conn
        buffer.reserveCapacity(flushAt + 64 * 1024)
    }

    public func write(_ bytes: some Collection<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushAt { try flush() }
    }

    public func write(_ string: String) throws {
        try write(string.utf8)
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        let rc = buffer.withUnsafeBufferPointer { ptr in
            ptr.baseAddress!.withMemoryRebound(to: CChar.self, capacity: ptr.count) {
                PQputCopyData(conn, $0, Int32(ptr.count))
            }
        }
        guard rc == 1 else { throw connection.copyError(conn) }
        bytesSent += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Sends what is buffered and ends the COPY; throws the server's verdict (bad row, constraint…).
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try flush()
        guard PQputCopyEnd(conn, nil) == 1 else { throw connection.copyError(conn) }
        try connection.finishCopy(conn)
    }

    /// Aborts the COPY: the server discards the rows and reports `message`.
    public func abort(_ message: String) {
        guard !finished else { return }
        finished = true
        _ = PQputCopyEnd(conn, message)
        _ = try? connection.finishCopy(conn)
    }
}

/// Calls `body` with a C array of NUL-terminated copies of `strings` (NULL for nil).
func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeMutableBufferPointer { buffer in
        body(buffer.map { UnsafePointer($0) })
    }
}
