import Foundation
import KGClient
import KGDatabase
import XCTest

/// Issue 14, finding 2: `/auth/token` is throttled per client address and per user
/// name (429 + Retry-After, logged), unknown names cost as much as known ones, and
/// no password ever reaches PostgreSQL (bcrypt runs in the gateway).
final class LoginHardeningTests: XCTestCase {
    var stack: TestStack!

    override func tearDown() {
        stack?.stop()
    }

    struct Attempt {
        let status: Int
        let retryAfter: Int?
        let seconds: Double
        let body: [String: Any]
    }

    static func login(_ apiURL: String, _ username: String, _ password: String, headers: [String: String] = [:]) throws -> Attempt {
        let body = try JSONSerialization.data(withJSONObject: ["username": username, "password": password])
        let start = Date()
        let r = try HTTPClient(baseURL: apiURL, token: nil).request(method: "POST", path: "/auth/token", json: body, headers: headers)
        return Attempt(
            status: r.status, retryAfter: r.headers["retry-after"].flatMap { Int($0) },
            seconds: Date().timeIntervalSince(start), body: TestStack.object(r))
    }

    func testLoginIsThrottledPerUserNameAndPerAddress() throws {
        let window = 30
        stack = try TestStack(
            workers: 0,
            environment: [
                "KG_LOGIN_MAX_FAILURES_PER_USER": "3",
                "KG_LOGIN_MAX_FAILURES_PER_ADDRESS": "8",
                "KG_LOGIN_FAILURE_WINDOW": String(window),
            ])
        let api = stack.apiURL
        // A known name: 3 failures are answered 401, then 429 with Retry-After, even for the right password.
        for i in 0..<3 { XCTAssertEqual(try Self.login(api, "admin", "wrong-\(i)").status, 401) }
        let refused = try Self.login(api, "admin", "wrong-3")
        XCTAssertEqual(refused.status, 429, "\(refused.body)")
        let retry = try XCTUnwrap(refused.retryAfter, "429 without Retry-After")
        XCTAssertTrue((1...window).contains(retry), "Retry-After \(retry)")
        XCTAssertTrue((refused.body["error"] as? String ?? "").contains("too many failed logins for user name admin"), "\(refused.body)")
        XCTAssertEqual(try Self.login(api, "admin", stack.adminPassword).status, 429, "the right password is refused too while throttled")

        // An unknown name is throttled exactly the same way: a 429 tells nothing about which names exist.
        for i in 0..<3 { XCTAssertEqual(try Self.login(api, "ghost", "wrong-\(i)").status, 401) }
        let ghost = try Self.login(api, "ghost", "wrong-3")
        XCTAssertEqual(ghost.status, 429)
        XCTAssertEqual((ghost.body["error"] as? String)?.replacingOccurrences(of: "ghost", with: "admin"), refused.body["error"] as? String)

        // The address: 6 failures so far; 2 more on other names, then every name is refused from here.
        for i in 0..<2 { XCTAssertEqual(try Self.login(api, "carol\(i)", "wrong").status, 401) }
        let address = try Self.login(api, "dave", "wrong")
        XCTAssertEqual(address.status, 429, "\(address.body)")
        XCTAssertTrue((address.body["error"] as? String ?? "").contains("address 127.0.0.1"), "\(address.body)")
        XCTAssertNotNil(address.retryAfter)

        // Logged, once per throttled key; the refused attempts wrote no audit rows (only the 8 real failures did).
        let log = stack.gateways[0].log
        XCTAssertTrue(log.contains("login throttled"), log)
        XCTAssertTrue(log.contains("user name admin"), log)
        XCTAssertTrue(log.contains("address 127.0.0.1"), log)
        XCTAssertFalse(log.contains("wrong-"), "no password in the gateway's log")
        let failures = try stack.auditRows(action: "login").filter { ($0["outcome"] ?? nil) == "failure" }
        XCTAssertEqual(failures.count, 8, "\(failures)")
        print(
            "LoginHardeningTests: per-user limit 3 → 429 Retry-After \(retry) s; per-address limit 8 → 429 Retry-After \(address.retryAfter ?? -1) s")
    }

    /// A success clears the name's count; a client behind a trusted proxy is throttled by its own address.
    func testSuccessClearsTheNameAndProxiedClientsAreCountedApart() throws {
        stack = try TestStack(
            workers: 0,
            environment: [
                "KG_LOGIN_MAX_FAILURES_PER_USER": "3",
                "KG_LOGIN_MAX_FAILURES_PER_ADDRESS": "4",
                "KG_TRUSTED_PROXIES": "127.0.0.1",
            ])
        let api = stack.apiURL
        let from = { (ip: String) in ["X-Forwarded-For": ip] }
        for _ in 0..<2 { XCTAssertEqual(try Self.login(api, "admin", "wrong", headers: from("203.0.113.1")).status, 401) }
        XCTAssertEqual(try Self.login(api, "admin", stack.adminPassword, headers: from("203.0.113.1")).status, 200)
        for _ in 0..<2 { XCTAssertEqual(try Self.login(api, "admin", "wrong", headers: from("203.0.113.1")).status, 401) }
        XCTAssertEqual(
            try Self.login(api, "admin", stack.adminPassword, headers: from("203.0.113.2")).status, 200,
            "2 failures after the success: the name is not throttled")
        // 203.0.113.1 has 4 failures now: it is refused; another client is not.
        XCTAssertEqual(try Self.login(api, "someone", "wrong", headers: from("203.0.113.1")).status, 429)
        XCTAssertEqual(try Self.login(api, "someone", "wrong", headers: from("203.0.113.3")).status, 401)
    }

    /// An unknown name takes as long as a wrong password for a known one (both cost a bcrypt
    /// in the gateway). Before the fix, the crypt() in SQL ran only for a known name.
    func testUnknownNamesCostAsMuchAsKnownOnes() throws {
        stack = try TestStack(workers: 0, environment: ["KG_LOGIN_MAX_FAILURES_PER_USER": "0", "KG_LOGIN_MAX_FAILURES_PER_ADDRESS": "0"])
        let gap = try Self.enumerationGap(stack.apiURL, rounds: 15)
        print("LoginHardeningTests: median wrong-password login \(Self.ms(gap.known)) for a known name, \(Self.ms(gap.unknown)) for an unknown one")
        XCTAssertGreaterThan(gap.unknown, gap.known * 0.5, "an unknown name answers much faster: names can be enumerated by timing")
        XCTAssertLessThan(gap.unknown, gap.known * 2)
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }

    /// Median times of wrong-password logins for a known and an unknown name, interleaved.
    static func enumerationGap(_ api: String, rounds: Int) throws -> (known: Double, unknown: Double) {
        var known: [Double] = [], unknown: [Double] = []
        for i in 0..<rounds {
            let k = try login(api, "admin", "wrong-\(i)")
            let u = try login(api, "nobody-\(i)", "wrong-\(i)")
            XCTAssertEqual(k.status, 401)
            XCTAssertEqual(u.status, 401)
            known.append(k.seconds)
            unknown.append(u.seconds)
        }
        return (known.sorted()[rounds / 2], unknown.sorted()[rounds / 2])
    }

    /// With `log_statement = all` for the test's database, PostgreSQL's log shows every
    /// statement and its bind parameters: no password appears there, whether a login
    /// succeeds or fails, a user is added, or a password is changed. A marker query
    /// proves that the log being read is the one the statements go to.
    func testNoPasswordReachesPostgreSQL() throws {
        stack = try TestStack(workers: 0)
        let statements = try stack.logStatements()
        let marker = try statements.mark(stack)

        let api = stack.apiURL
        let wrong = "wrong-\(UUID().uuidString)"
        XCTAssertEqual(try Self.login(api, "admin", wrong).status, 401)
        XCTAssertEqual(try Self.login(api, "nobody", wrong).status, 401)
        XCTAssertEqual(try Self.login(api, "admin", stack.adminPassword).status, 200)
        let carolFirst = "carol-\(UUID().uuidString)", carolSecond = "carol2-\(UUID().uuidString)"
        try stack.addUser("carol", role: "reader", password: carolFirst)
        XCTAssertEqual(try Self.login(api, "carol", carolFirst).status, 200)
        let passwd = try runCommand(
            stack.binDir + "/kg-gateway", ["user", "passwd", "--username", "carol"],
            environment: stack.serviceEnvironment(), input: carolSecond + "\n")
        XCTAssertEqual(passwd.exitCode, 0, passwd.summary)
        XCTAssertEqual(try Self.login(api, "carol", carolSecond).status, 200)
        XCTAssertEqual(try Self.login(api, "carol", carolFirst).status, 401, "the old password no longer works")

        let end = try statements.mark(stack)
        let log = statements.text(waitingFor: end)
        XCTAssertTrue(log.contains(marker) && log.contains(end), "the marker queries are not in \(statements.path): the test reads the wrong log")
        XCTAssertTrue(log.contains("kg_api.users"), "the gateway's statements are logged (log_statement = all)")
        for (what, secret) in [
            ("a wrong password", wrong), ("the admin's password", stack.adminPassword),
            ("a new user's password", carolFirst), ("a changed password", carolSecond),
        ] {
            XCTAssertFalse(log.contains(secret), "\(what) reached PostgreSQL's log")
        }
        // Hashes made in the gateway are pgcrypto's form ($2a$, cost 10), which older gateways verify.
        let check = try stack.db()
        defer { check.close() }
        let hash = try XCTUnwrap(try check.query("SELECT password_hash FROM kg_api.users WHERE username = 'carol'").first("password_hash"))
        XCTAssertTrue(hash.hasPrefix("$2a$10$"), hash)
        XCTAssertEqual(
            try check.query("SELECT crypt($1, $2) = $2 AS same", [carolSecond, hash]).first("same"), "t",
            "pgcrypto verifies the gateway's hash (what an older gateway does)")
    }
}
