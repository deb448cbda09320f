import ArgumentParser
import Foundation
import KGClient

/// Options every server-facing command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Gateway URL (else KG_API_URL, else config api_url, else http://127.0.0.1:8080).")
    var server: String?

    @Option(name: .long, help: "Bearer token (else KG_TOKEN, else the stored login).")
    var token: String?

    @Option(name: .long, help: "CA certificate (PEM) to verify an HTTPS gateway with a private CA.")
    var cacert: String?

    func config() throws -> CLIConfig { try CLIConfig.load() }

    func serverURL(_ config: CLIConfig) -> String {
        var url = server ?? CLIConfig.environment["KG_API_URL"] ?? config.apiURL ?? "http://127.0.0.1:8080"
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    func client(_ config: CLIConfig) -> HTTPClient {
        let token = self.token ?? CLIConfig.environment["KG_TOKEN"] ?? config.values["token"]
        return HTTPClient(baseURL: serverURL(config), token: token, caCertPath: cacert)
    }
}

/// `--json` for commands that print data.
struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print JSON on standard output.")
    var json = false
}
