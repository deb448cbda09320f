import Foundation

/// The CLI's wording of a 429 from `max_jobs_per_user`: what the limit is,
/// which jobs hold it, and when to try again.
enum JobLimitMessage {
    static func text(message: String, body: Data) -> String {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        let detail = object?["detail"] as? [String: Any]
        let error = (object?["error"] as? String) ?? "too many jobs"
        guard let detail else { return "the gateway refused the job: \(message.isEmpty ? error : message)" }
        var lines = ["the gateway refused the job: \(error)"]
        if let jobs = detail["active_jobs"] as? [String], !jobs.isEmpty {
            lines.append("your queued or running jobs: " + jobs.joined(separator: ", "))
        }
        let retry = (detail["retry_after_s"] as? Int).map { "in \($0) s" } ?? "later"
        lines.append("Try again \(retry), or once one of them has ended (`kg job list`, `kg job watch ID`).")
        return lines.joined(separator: "\n")
    }
}
