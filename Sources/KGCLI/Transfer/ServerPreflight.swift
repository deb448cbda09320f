import Foundation
import KGClient

/// Asks the gateway who the token belongs to (`GET /auth/whoami`) before a
/// command spends time on a local file: an unreachable server (exit 3), a bad
/// token or a missing role (exit 4) are known in one round trip, not after
/// minutes of reading.
enum ServerPreflight {
    static func requireAdmin(_ client: HTTPClient, for what: String) throws {
        struct WhoAmI: Decodable { let username: String; let role: String }
        let response: HTTPResponse
        do {
            response = try client.request(method: "GET", path: "/auth/whoami")
        } catch let error as HTTPClientError {
            throw CLIError.from(error)
        }
        guard response.isSuccess else {
            throw CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
        }
        guard let who = try? response.decodeJSON(WhoAmI.self) else {
            throw CLIError("the server did not answer as a kg gateway (GET /auth/whoami); check api_url")
        }
        guard who.role == "admin" else {
            throw CLIError(
                "\(what) needs the admin role; you are logged in as \(who.username) (\(who.role)). "
                    + "Nothing was read or sent. Log in as an admin: kg login --username NAME", exitCode: 4)
        }
    }
}
