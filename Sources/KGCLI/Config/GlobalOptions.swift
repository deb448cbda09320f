import ArgumentParser
import Foundation
import KGClient

/// Options every server-facing command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Gateway URL (else KG_API_URL, else config api_url, else http://127.0.0.1:8080).")
    var server: String?

    @Option(name: .long, help: "Bearer token (else --token-file, else KG_TOKEN, else KG_TOKEN_FILE, else the stored login).")
    var token: String?

    @Option(name: .long, help: "Read the bearer token from this file (for unattended runs; else KG_TOKEN_FILE).")
    var tokenFile: String?

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
            !FileManager.default.isReadableFile(atPath: path)
        {
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
    /// `--token`, `--token-file`, `KG_TOKEN` or `KG_TOKEN_FILE` is sent as given.
    func client(_ config: CLIConfig) throws -> HTTPClient {
        let server = serverURL(config)
        var token = try explicitToken()
        if token == nil, let stored = config.values["token"] {
            if let issuer = config.values["token_server"], !Self.sameServer(issuer, server) {
                throw CLIError(
                    """
                    the stored login is for \(issuer), but this command goes to \(server); kg sends a token only to \
                    the server that issued it. Log in there: kg login --server \(server)
                    """, exitCode: 4)
            }
            token = stored
        }
        return HTTPClient(
            baseURL: server, token: token, caCertPath: caCertPath(config),
            maxReceiveRate: limitDownload.map { $0 * 1024 }, maxSendRate: limitUpload.map { $0 * 1024 })
    }

    /// The token given for this run: --token, --token-file, KG_TOKEN, KG_TOKEN_FILE (in that order).
    /// A token file holds the token on its first line (white space around it ignored).
    func explicitToken() throws -> String? {
        if let token { return token }
        let environment = CLIConfig.environment
        if let tokenFile { return try Self.readToken(tokenFile, source: "--token-file") }
        if let token = environment["KG_TOKEN"], !token.isEmpty { return token }
        if let file = environment["KG_TOKEN_FILE"], !file.isEmpty { return try Self.readToken(file, source: "KG_TOKEN_FILE") }
        return nil
    }

    static func readToken(_ file: String, source: String) throws -> String {
        let path = (file as NSString).expandingTildeInPath
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read the token file \(path) (\(source)): check the path and that this user may read it", exitCode: 4)
        }
        let token =
            String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard !token.isEmpty else {
            throw CLIError(
                "the token file \(path) (\(source)) is empty; put a token from POST /auth/token in it "
                    + "(docs/OPERATIONS.md, \"Scheduled backups\")", exitCode: 4)
        }
        return token
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
