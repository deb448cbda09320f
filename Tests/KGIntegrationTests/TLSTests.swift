import Foundation
import KGClient
import KGTestSupport
import XCTest

/// HTTPS end to end: a private CA and a server certificate made in the test, a
/// real gateway serving TLS, and the real CLI, which verifies the certificate
/// and trusts the private CA only when told to (--cacert, KG_CACERT, config).
final class TLSTests: XCTestCase {
    var stack: TestStack!
    var certificates: TestCertificates!

    override func setUpWithError() throws {
        certificates = try TestCertificates(directory: NSTemporaryDirectory() + "kg-tls-\(UUID().uuidString.prefix(8))")
        stack = try TestStack.withTLS(certificates: certificates)
        // Large enough that the download and the upload span many TLS records and several 256 KiB chunks.
        try stack.loadSample(concepts: 1200, ontologies: 2, dimensions: 64)
    }

    override func tearDown() {
        stack?.stop()
        if let certificates { try? FileManager.default.removeItem(atPath: certificates.directory) }
    }

    func testCLIRefusesAnUnverifiedCertificateAndWorksWithTheCA() throws {
        XCTAssertTrue(stack.apiURL.hasPrefix("https://"))
        let password = stack.adminPassword + "\n"

        // Without the CA the certificate cannot be verified: refused, exit 3, and the message names --cacert.
        let refused = try stack.kg(["login", "--username", "admin", "--password-stdin"], input: password)
        XCTAssertEqual(refused.exitCode, 3, refused.summary)
        XCTAssertTrue(refused.stderr.contains("--cacert"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("certificate") && refused.stderr.contains("Nothing was sent"), refused.stderr)
        XCTAssertNil(try CLIConfigFile(stack: stack).token, "no token was stored")

        // Plain HTTP against the HTTPS port does not work either (the gateway speaks TLS only there).
        let plain = try stack.kg(
            [
                "login", "--username", "admin", "--password-stdin",
                "--server", "http://127.0.0.1:\(stack.gatewayPorts[0])",
            ], input: password)
        XCTAssertNotEqual(plain.exitCode, 0, plain.summary)

        // With --cacert: login works.
        let login = try stack.kg(
            ["login", "--username", "admin", "--password-stdin", "--cacert", certificates.caCertificate],
            input: password)
        XCTAssertEqual(login.exitCode, 0, login.summary + stack.logs)

        // A backup over HTTPS, trusting the CA through KG_CACERT: the streamed download arrives whole.
        let backup = try stack.kg(["admin", "backup", "--type", "full"], extra: ["KG_CACERT": certificates.caCertificate])
        XCTAssertEqual(backup.exitCode, 0, backup.summary + stack.logs)
        let file = backup.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let verify = try stack.kg(["admin", "verify", file])
        XCTAssertEqual(verify.exitCode, 0, verify.summary)
        let expected = try BackupFile(path: file).ids("concepts", "concept_id")
        XCTAssertEqual(expected.count, 1200)
        let size = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        XCTAssertGreaterThan(size, 1 << 20, "a file of several chunks")

        // A restore over HTTPS, trusting the CA through the config file: the upload streams in,
        // and the CLI follows the job's events (SSE) to the end.
        let set = try stack.kg(["config", "set", "cacert", certificates.caCertificate])
        XCTAssertEqual(set.exitCode, 0, set.summary)
        let before = try stack.graphChecksum()
        try stack.db().execute("DELETE FROM kg.relationships; UPDATE kg.concepts SET label = 'changed'")
        let restore = try stack.kg(["admin", "restore", file, "--yes"])
        XCTAssertEqual(restore.exitCode, 0, restore.summary + stack.logs)
        XCTAssertTrue(restore.stderr.contains("restored"), restore.stderr)
        XCTAssertEqual(try stack.graphChecksum(), before, "the graph is the backup's content again")

        // The job's event stream over TLS: a finished job answers its terminal event at once.
        let jobID = restore.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let watch = try stack.kg(["job", "watch", jobID])
        XCTAssertEqual(watch.exitCode, 0, watch.summary)

        // A CA file that cannot be read is a usage error naming it.
        let missing = try stack.kg(["job", "list", "--cacert", stack.root + "/no-such-ca.pem"])
        XCTAssertEqual(missing.exitCode, 2, missing.summary)
        XCTAssertTrue(missing.stderr.contains("no-such-ca.pem"), missing.stderr)
    }

    /// A renewed certificate is served after SIGHUP (`systemctl reload`), without
    /// a restart; a broken one is refused, loudly, and the previous one stays.
    func testSIGHUPReloadsTheCertificate() throws {
        let password = stack.adminPassword + "\n"
        func login(_ ca: String) throws -> CommandResult {
            try stack.kg(["login", "--username", "admin", "--password-stdin", "--cacert", ca], input: password)
        }
        XCTAssertEqual(try login(certificates.caCertificate).exitCode, 0)
        let renewed = try TestCertificates(directory: certificates.directory + "/renewed")
        // The files are replaced in place, as a renewal does; nothing changes until the signal.
        for (from, to) in [(renewed.serverCertificate, certificates.serverCertificate), (renewed.serverKey, certificates.serverKey)] {
            try Data(contentsOf: URL(fileURLWithPath: from)).write(to: URL(fileURLWithPath: to), options: .atomic)
        }
        XCTAssertEqual(try login(certificates.caCertificate).exitCode, 0, "before SIGHUP the old certificate is still served")
        let gateway = stack.gateways[0]
        XCTAssertEqual(kill(gateway.pid, SIGHUP), 0)
        try stack.waitUntil(10, "the renewed certificate to be served") { try login(renewed.caCertificate).exitCode == 0 }
        let old = try login(certificates.caCertificate)
        XCTAssertEqual(old.exitCode, 3, "the old CA no longer verifies the served certificate: \(old.summary)")
        XCTAssertTrue(gateway.log.contains("TLS certificate reloaded"), gateway.log)

        // A broken file: the reload is refused and logged; the renewed certificate stays.
        try "not a certificate\n".write(toFile: certificates.serverCertificate, atomically: true, encoding: .utf8)
        XCTAssertEqual(kill(gateway.pid, SIGHUP), 0)
        try stack.waitUntil(10, "the refusal in the log") { gateway.log.contains("NOT reloaded") }
        XCTAssertTrue(gateway.log.contains(certificates.serverCertificate), gateway.log)
        XCTAssertEqual(try login(renewed.caCertificate).exitCode, 0, "still serving the renewed certificate")
        XCTAssertTrue(gateway.isRunning)
    }

    func testGatewayRefusesToStartWithABadCertificateOrKey() throws {
        let onlyCertificate = try stack.gatewayStartFailure(environment: ["KG_TLS_PRIVATE_KEY_FILE": ""])
        XCTAssertNotEqual(onlyCertificate.exitCode, 0)
        XCTAssertTrue(onlyCertificate.stderr.contains("tls_private_key_file"), onlyCertificate.stderr)

        let missing = stack.root + "/missing.pem"
        let unreadable = try stack.gatewayStartFailure(environment: ["KG_TLS_CERTIFICATE_FILE": missing])
        XCTAssertNotEqual(unreadable.exitCode, 0)
        XCTAssertTrue(unreadable.stderr.contains(missing), unreadable.stderr)
        XCTAssertTrue(unreadable.stderr.contains("tls_certificate_file"), unreadable.stderr)

        let garbage = stack.root + "/garbage.pem"
        try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let invalid = try stack.gatewayStartFailure(environment: ["KG_TLS_CERTIFICATE_FILE": garbage])
        XCTAssertNotEqual(invalid.exitCode, 0)
        XCTAssertTrue(invalid.stderr.contains(garbage), invalid.stderr)

        let mismatched = try stack.gatewayStartFailure(environment: ["KG_TLS_PRIVATE_KEY_FILE": certificates.otherKey])
        XCTAssertNotEqual(mismatched.exitCode, 0)
        XCTAssertTrue(mismatched.stderr.contains(certificates.otherKey), mismatched.stderr)
    }

    /// One TLS handshake with `openssl s_client` offering only `version` (`-tls1_1`, `-tls1_2`, `-tls1_3`);
    /// the protocol the server agreed to, or nil when it refused. SECLEVEL=0 lets OpenSSL 3 offer 1.0/1.1 at all.
    func handshake(port: Int, _ version: String) throws -> String? {
        let r = try runCommand(
            "/usr/bin/openssl",
            [
                "s_client", "-connect", "127.0.0.1:\(port)", version, "-cipher", "DEFAULT@SECLEVEL=0",
                "-CAfile", certificates.caCertificate,
            ], environment: ["PATH": "/usr/bin:/bin"], input: "")
        // "New, (NONE), Cipher is (NONE)" when refused; else the session's "Protocol  : TLSv1.x" (for TLS 1.3
        // it may be missing: then "New, TLSv1.3, Cipher is …", whose version is the cipher's, exact for 1.3 only).
        let lines = r.stdout.split(separator: "\n")
        guard let new = lines.first(where: { $0.hasPrefix("New, ") }), !new.hasPrefix("New, (NONE)") else { return nil }
        if let line = lines.first(where: { $0.contains("Protocol  :") }) {
            return line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return new.split(separator: ",")[1].trimmingCharacters(in: .whitespaces)
    }

    /// TLS 1.0 and 1.1 are refused; 1.2 and 1.3 are served; `tls_minimum_version` 1.3 refuses 1.2 too
    /// (issue 14, finding 7). A plain `openssl s_server` that allows 1.1 is the control: this client does offer it.
    func testOldTLSVersionsAreRefused() throws {
        let controlPort = freePort()
        let control = try ManagedProcess(
            name: "s_server-tls1_1", executable: "/usr/bin/openssl",
            arguments: [
                "s_server", "-accept", "127.0.0.1:\(controlPort)", "-cert", certificates.serverCertificate,
                "-key", certificates.serverKey, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-quiet",
            ],
            environment: ["PATH": "/usr/bin:/bin"], logDir: stack.root + "/logs")
        defer { control.stop(grace: 1) }
        var agreed: String?
        try stack.waitUntil(10, "the control server to answer") {
            agreed = try handshake(port: controlPort, "-tls1_1")
            return agreed != nil
        }
        XCTAssertEqual(agreed, "TLSv1.1", "the client offers TLS 1.1 when a server takes it")

        let port = stack.gatewayPorts[0]
        XCTAssertNil(try handshake(port: port, "-tls1"), "TLS 1.0 refused")
        XCTAssertNil(try handshake(port: port, "-tls1_1"), "TLS 1.1 refused")
        XCTAssertEqual(try handshake(port: port, "-tls1_2"), "TLSv1.2")
        XCTAssertEqual(try handshake(port: port, "-tls1_3"), "TLSv1.3")

        let strictPort = freePort()
        var environment = stack.serviceEnvironment(port: strictPort)
        environment["KG_TLS_MINIMUM_VERSION"] = "1.3"
        let strict = try ManagedProcess(
            name: "gateway-tls13", executable: stack.binDir + "/kg-gateway", arguments: ["serve"],
            environment: environment, logDir: stack.root + "/logs")
        defer { strict.stop() }
        try stack.waitUntil(30, "the TLS 1.3 gateway to answer") { try handshake(port: strictPort, "-tls1_3") == "TLSv1.3" }
        XCTAssertNil(try handshake(port: strictPort, "-tls1_2"), "TLS 1.2 refused with tls_minimum_version 1.3")

        let refused = try stack.gatewayStartFailure(environment: ["KG_TLS_MINIMUM_VERSION": "1.1"])
        XCTAssertNotEqual(refused.exitCode, 0)
        XCTAssertTrue(refused.stderr.contains("tls_minimum_version must be 1.2 or 1.3"), refused.stderr)
    }
}

/// The CLI's stored settings, read back for assertions.
struct CLIConfigFile {
    let values: [String: Any]
    init(stack: TestStack) throws {
        let path = stack.cliHome + "/config/kg/config.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            values = [:]
            return
        }
        values = (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
    var token: String? { values["token"] as? String }
}
