import ArgumentParser
import Foundation
import KGClient

/// Options every server-facing command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Gateway URL (else KG_API_URL, else config api_url, else http://127.0.0.1:8080).")
    var server: String?

    @Option(name: .long, help: "Bearer token (else KG_TOKEN, else the stored login).")
    var token: String?

    @Option(name: .long, help: "CA certificate (PEM) to verify an HTTPS gateway with a private CA (else KG_CACERT, else config cacert).")
    var cacert: String?

    @Option(name: .long, help: "Limit downloads to this many KiB/s (as restic's --limit-download).")
    var limitDownload: Int?

    @Option(name: .long, help: "Limit uploads to this many KiB/s.")
    var limitUpload: Int?

    func config() throws -> CLIConfig { try CLIConfig.load() }

    func validate() throws {
        for (name, value) in [("--limit-download", limitDownload), ("--limit-upload", limitUpload)] {
            if let value, value <= 0 { throw ValidationError("\(name) is in KiB/s and must be more than 0") }
        }
        if let path = caCertPath((try? CLIConfig.load()) ?? CLIConfig(values: [:], path: "")),
           !FileManager.default.isReadableFile(atPath: path) {
            throw ValidationError("cannot read the CA certificate \(path) (--cacert, KG_CACERT or config cacert): check the path")
        }
    }

    /// The CA certificate to trust besides the system's: --cacert, else KG_CACERT, else config `cacert`.
    func caCertPath(_ config: CLIConfig) -> String? {
        guard let path = cacert ?? CLIConfig.environment["KG_CACERT"] ?? config.values["cacert"], !path.isEmpty else { return nil }
        return (path as NSString).expandingTildeInPath
    }

    func serverURL(_ config: CLIConfig) -> String {
        var url = server ?? CLIConfig.environment["KG_API_URL"] ?? config.apiURL ?? "http://127.0.0.1:8080"
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    /// A client for the server this command goes to. A stored login's token goes only
    /// to the server that issued it (`token_server`): to any other the command stops
    /// (exit 4) before connecting, and says how to log in there. A token given with
    /// `--token` or `KG_TOKEN` is sent as given.
    func client(_ config: CLIConfig) throws -> HTTPClient {
        let server = serverURL(config)
        var token = self.token ?? CLIConfig.environment["KG_TOKEN"]
        if token == nil, let stored = config.values["token"] {
            if let issuer = config.values["token_server"], !Self.sameServer(issuer, server) {
                throw CLIError("""
                    the stored login is for \(issuer), but this command goes to \(server); kg sends a token only to \
                    the server that issued it. Log in there: kg login --server \(server)
                    """, exitCode: 4)
            }
            token = stored
        }
        return HTTPClient(baseURL: server, token: token, caCertPath: caCertPath(config),
                          maxReceiveRate: limitDownload.map { $0 * 1024 }, maxSendRate: limitUpload.map { $0 * 1024 })
    }

    /// Two gateway URLs name the same server (scheme and host compared without case, trailing slashes ignored).
    static func sameServer(_ a: String, _ b: String) -> Bool {
        func normal(_ url: String) -> String {
            var url = url
            while url.hasSuffix("/") { url.removeLast() }
            guard let components = URLComponents(string: url) else { return url }
            return "\(components.scheme?.lowercased() ?? "")://\(components.host?.lowercased() ?? "")"
                + ":\(components.port ?? (components.scheme?.lowercased() == "https" ? 443 : 80))\(components.path)"
        }
        return normal(a) == normal(b)
    }
}

/// `--json` for commands that print data.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON on standard output.")
    var json = false
}
