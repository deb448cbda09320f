import ArgumentParser
import Foundation
import KGClient

extension Admin {
    /// `kg admin audit`: the audit trail, newest first (admin role).
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the audit trail, newest first (needs the admin role).",
            discussion: """
                Logins (and failed logins), logouts, token revocations, backups and restores (the request, \
                and how the job ended: backup.finished, restore.finished), and other risky operations.

                EXAMPLES:
                  kg admin audit --since 24h
                  kg admin audit --action restore --user alice
                  kg admin audit --since 7d --json
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this user's actions.") var user: String?
        @Option(help: "Only this action and the ones under it (restore also shows restore.finished).") var action: String?
        @Option(help: "Only entries since a time (2026-11-28T10:00:00Z, 2026-11-28) or an age (30m, 24h, 7d).") var since: String?
        @Option(help: "At most this many entries (1–1000; default 100).") var limit: Int?

        func validate() throws {
            if let limit, !(1...1000).contains(limit) { throw ValidationError("--limit must be from 1 to 1000") }
        }

        func run() throws {
            var components = URLComponents()
            components.path = "/admin/audit"
            var items: [URLQueryItem] = []
            if let user { items.append(URLQueryItem(name: "user", value: user)) }
            if let action { items.append(URLQueryItem(name: "action", value: action)) }
            if let since { items.append(URLQueryItem(name: "since", value: since)) }
            if let limit { items.append(URLQueryItem(name: "limit", value: String(limit))) }
            if !items.isEmpty { components.queryItems = items }
            // URLComponents leaves "+" alone; a server may read it as a space.
            components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
            let client = try global.client(try global.config())
            let response: HTTPResponse
            do {
                response = try client.request(method: "GET", path: components.string ?? "/admin/audit")
            } catch let error as HTTPClientError {
                throw CLIError.from(error)
            }
            guard response.isSuccess else {
                if response.status == 400 { throw CLIError.usage(response.errorMessage ?? "the gateway refused the filters") }
                throw CLIError.from(.http(status: response.status, message: response.errorMessage ?? "", body: response.body))
            }
            if output.json {
                print(String(decoding: response.body, as: UTF8.self))
                return
            }
            struct Entry: Decodable {
                let at: String
                let actor: String?
                let action: String
                let target: String?
                let outcome: String
                let remote_address: String?
                let detail: String?
            }
            struct Entries: Decodable { let entries: [Entry] }
            let entries = try response.decodeJSON(Entries.self).entries
            guard !entries.isEmpty else {
                Terminal.error("no audit entries match")
                return
            }
            let rows = entries.map { e in
                [e.at, e.actor ?? "-", e.action, e.outcome, e.remote_address ?? "-", e.target ?? "-", e.detail ?? ""]
            }
            print(TextTable.render(header: ["TIME (UTC)", "USER", "ACTION", "OUTCOME", "FROM", "TARGET", "DETAIL"], rows: rows))
        }
    }
}
