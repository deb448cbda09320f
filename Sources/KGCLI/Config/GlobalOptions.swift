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

    func config() throws -> CLIConfig { try CLIConfig.load() }

    func validate() throws {
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

    func client(_ config: CLIConfig) -> HTTPClient {
        let token = self.token ?? CLIConfig.environment["KG_TOKEN"] ?? config.values["token"]
        return HTTPClient(baseURL: serverURL(config), token: token, caCertPath: caCertPath(config))
    }
}

/// `--json` for commands that print data.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON on standard output.")
    var json = false
}
