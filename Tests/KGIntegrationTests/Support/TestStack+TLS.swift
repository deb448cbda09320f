import Foundation
import KGTestSupport

extension TestStack {
    /// A stack whose gateways serve HTTPS with a certificate from a private CA made for the test.
    static func withTLS(certificates: TestCertificates, workers: Int = 2, environment: [String: String] = [:]) throws -> TestStack {
        var env = environment
        env["KG_TLS_CERTIFICATE_FILE"] = certificates.serverCertificate
        env["KG_TLS_PRIVATE_KEY_FILE"] = certificates.serverKey
        return try TestStack(workers: workers, environment: env, caCert: certificates.caCertificate)
    }

    /// Runs `kg-gateway serve` expecting it to refuse to start; returns its result (bounded by `timeout`).
    func gatewayStartFailure(environment extra: [String: String], timeout: Double = 20) throws -> CommandResult {
        var env = serviceEnvironment(port: freePort())
        env.merge(extra) { _, new in new }
        let process = try ManagedProcess(
            name: "gateway-refused-\(UUID().uuidString.prefix(6))", executable: binDir + "/kg-gateway",
            arguments: ["serve"], environment: env, logDir: root + "/logs")
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning {
            process.stop()
            throw StackError("kg-gateway kept running though it should have refused to start:\n\(process.log)")
        }
        return CommandResult(exitCode: process.process.terminationStatus, stdout: "", stderr: process.log)
    }
}
