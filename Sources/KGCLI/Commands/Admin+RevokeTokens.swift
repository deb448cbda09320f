import ArgumentParser
import Foundation
import KGClient

extension Admin {
    /// `kg admin revoke-tokens USER`: ends every session of a user (admin role).
    struct RevokeTokens: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "revoke-tokens",
            abstract: "Revoke every token of a user; they must log in again (needs the admin role).",
            discussion: """
                Use it for a lost laptop or a leaked token. The user account stays; `kg logout` revokes only your own token.

                EXAMPLES:
                  kg admin revoke-tokens alice
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "The user whose tokens to revoke.") var user: String

        func validate() throws {
            guard !user.isEmpty else { throw ValidationError("give a user name") }
        }

        func run() throws {
            let client = try global.client(try global.config())
            let encoded = user.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? user
            let response: HTTPResponse
            do {
                response = try client.request(method: "POST", path: "/admin/users/\(encoded)/revoke-tokens")
            } catch let error as HTTPClientError {
                throw CLIError.from(error)
            }
            if response.status == 404 {
                throw CLIError("no user \(user) on this gateway (an operator lists them with `kg-gateway user list`)")
            }
            guard response.isSuccess else {
                throw CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
            }
            if output.json {
                print(String(decoding: response.body, as: UTF8.self))
                return
            }
            struct Revoked: Decodable { let username: String; let revoked: Int }
            let revoked = try response.decodeJSON(Revoked.self)
            print("revoked \(revoked.revoked) token(s) of \(revoked.username); they must log in again")
        }
    }
}
