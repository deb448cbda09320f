import Foundation
import KGClient
import KGFormat

/// A job id as the user typed it: a whole id, or (as restic does) the start of
/// one that names a single job. Anything else is a usage error (exit 2) before
/// a request is made, so that no typed text ever becomes part of a URL path.
enum JobReference {
    /// The shortest prefix accepted: shorter ones match too much to be meant.
    static let minimumPrefix = 4

    /// Checks the form; returns the id lower-cased, or `nil` for a prefix that needs looking up.
    static func checkedForm(_ typed: String) throws -> (text: String, whole: Bool) {
        let text = typed.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard !text.isEmpty else {
            throw CLIError.usage("a job id is needed; `kg job list` shows them")
        }
        if UUID(uuidString: text) != nil { return (text, true) }
        guard text.allSatisfy({ $0.isHexDigit || $0 == "-" }), text.count < 36 else {
            throw CLIError.usage("\"\(typed)\" is not a job id: job ids look like 3f2a9c1e-…; `kg job list` shows them")
        }
        guard text.count >= minimumPrefix else {
            throw CLIError.usage("\"\(typed)\" is too short to name a job: give at least \(minimumPrefix) characters of its id")
        }
        return (text, false)
    }

    /// The whole id the user means: the id itself, or the one job whose id starts with the prefix.
    static func resolve(_ typed: String, client: HTTPClient) throws -> String {
        let form = try checkedForm(typed)
        if form.whole { return form.text }
        let response = try JobCommand.fetch(client, "GET", "/jobs?id_prefix=" + form.text)
        struct Jobs: Decodable { let jobs: [Job] }
        let ids = try response.decodeJSON(Jobs.self).jobs.map(\.jobID)
        switch ids.count {
        case 0:
            throw CLIError("no job of yours starts with \(form.text); `kg job list` shows them")
        case 1:
            return ids[0]
        default:
            throw CLIError.usage(
                "\(form.text) names \(ids.count) jobs (\(ids.prefix(5).joined(separator: ", "))"
                    + (ids.count > 5 ? ", …" : "") + "); give more of the id")
        }
    }
}
