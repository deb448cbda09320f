import Foundation
import KGFormat

/// What a command that followed a job prints on standard output: the job id,
/// or with `--json` one object `{"job_id", "status", "result", "error"?}`.
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
        if let error = job.error { object["error"] = error }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        Swift.print(String(decoding: data, as: UTF8.self))
    }
}
