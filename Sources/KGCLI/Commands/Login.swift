import ArgumentParser
import Foundation
import KGClient

/// `kg login --username U`: gets a token and stores it in the config file.
struct Login: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Log in and store a token.",
        discussion: """
            EXAMPLES:
              kg login --username admin
              kg login --server https://kg.example.com --username alice
              kg login --username backup-bot --password-stdin < ~/.config/kg/password
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "User name.") var username: String
    @Flag(help: "Read the password from standard input instead of prompting.") var passwordStdin = false

    func run() throws {
        var config = try global.config()
        let password: String
        if passwordStdin || !Terminal.stdinIsTTY {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw CLIError.usage("no password on standard input")
            }
            password = line
        } else {
            guard let secret = Terminal.readSecret(prompt: "Password for \(username): "), !secret.isEmpty else {
                throw CLIError.usage("no password given")
            }
            password = secret
        }
        let server = global.serverURL(config)
        let client = HTTPClient(baseURL: server, token: nil, caCertPath: global.caCertPath(config))
        let body = try JSONSerialization.data(withJSONObject: ["username": username, "password": password])
        let response: HTTPResponse
        do {
            response = try client.request(method: "POST", path: "/auth/token", json: body)
        } catch let error as HTTPClientError {
            throw CLIError.from(error)
        }
        guard response.isSuccess else {
            if response.status == 401 {
                throw CLIError("login failed: wrong user name or password", exitCode: 4)
            }
            throw CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
        }
        struct TokenResponse: Decodable { let token: String; let role: String; let expires_at: String }
        let token = try response.decodeJSON(TokenResponse.self)
        config.values["token"] = token.token
        config.values["username"] = username
        config.values["token_server"] = server
        try config.save()
        print("logged in to \(server) as \(username) (\(token.role)); the token expires \(token.expires_at)")
    }
}

/// `kg logout`: revokes the stored token and forgets it.
struct Logout: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Revoke the stored token and forget it.",
        discussion: """
            EXAMPLES:
              kg logout
            """)
    @OptionGroup var global: GlobalOptions

    func run() throws {
        var config = try global.config()
        if config.values["token"] != nil {
            _ = try? global.client(config).request(method: "POST", path: "/auth/logout")
        }
        config.values["token"] = nil
        config.values["token_server"] = nil
        try config.save()
        print("logged out")
    }
}
