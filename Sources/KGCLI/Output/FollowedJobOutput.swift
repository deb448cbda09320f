import Foundation
import KGFormat

/// What a command that followed a job prints on standard output: the job id,
/// or with `--json` one object `{"error", "job_id", "result", "status"}` (keys
/// sorted; `error` and `result` null when there is none).
///
/// ```swift
/// try FollowedJobOutput.print(job, json: output.json)
/// ```
enum FollowedJobOutput {
    static func print(_ job: Job, json: Bool) throws {
        guard json else {
            Swift.print(job.jobID)
            return
        }
        var object: [String: Any] = ["job_id": job.jobID, "status": job.status.rawValue]
        object["result"] = job.result.flatMap(Admin.Restore.jsonObject) ?? NSNull()
        object["error"] = job.error ?? NSNull()
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        Swift.print(String(decoding: data, as: UTF8.self))
    }

    /// The same shape for a command refused before any job existed (`status`
    /// `refused`), with the file's integrity report under `integrity` when that was the reason.
    static func printRefusal(error: String, integrity: String?) {
        let object: [String: Any] = ["job_id": NSNull(), "status": "refused", "result": NSNull(), "error": error]
        var text = String(
            decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8),
            as: UTF8.self)
        if let integrity {
            text.removeLast()
            text += ",\"integrity\":" + integrity + "}"
        }
        Swift.print(text)
    }
}
