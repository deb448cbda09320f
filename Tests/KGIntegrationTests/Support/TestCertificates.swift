import Foundation

/// A private CA and a server certificate for 127.0.0.1 and localhost, made for
/// one test with the `openssl` command (deploy/local/services.sh installs it).
struct TestCertificates {
    let directory: String
    var caCertificate: String { directory + "/ca.pem" }
    var serverCertificate: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server.key" }
    /// A key of another pair: does not belong to `serverCertificate`.
    var otherKey: String { directory + "/other.key" }

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        subjectAltName = IP:127.0.0.1, DNS:localhost
        basicConstraints = critical, CA:FALSE
        keyUsage = critical, digitalSignature
        extendedKeyUsage = serverAuth
        """.write(toFile: directory + "/server.ext", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try Self.openssl(
            ["req", "-x509"] + ec + [
                "-keyout", directory + "/ca.key", "-out", caCertificate, "-days", "2",
                "-subj", "/CN=kg test CA", "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        try Self.openssl(["req"] + ec + ["-keyout", serverKey, "-out", directory + "/server.csr", "-subj", "/CN=127.0.0.1"])
        try Self.openssl([
            "x509", "-req", "-in", directory + "/server.csr", "-CA", caCertificate, "-CAkey", directory + "/ca.key",
            "-CAcreateserial", "-out", serverCertificate, "-days", "2", "-extfile", directory + "/server.ext",
        ])
        try Self.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", otherKey])
    }

    static func openssl(_ arguments: [String]) throws {
        let path = ["/usr/bin/openssl", "/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { throw MissingTestSetup.missing("the openssl command (apt-get install openssl)") }
        let r = try runCommand(path, arguments, environment: ["PATH": "/usr/bin:/bin"])
        guard r.exitCode == 0 else { throw StackError("openssl \(arguments.joined(separator: " ")) failed: \(r.summary)") }
    }
}
