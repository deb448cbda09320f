import Hummingbird
import KGDatabase
import KGFormat

extension APIError {
    /// Seconds a client is told to wait after `max_jobs_per_user` refused a job.
    static let jobLimitRetryAfterSeconds = 15

    /// 429 with `Retry-After`: the user has as many queued or running jobs as allowed.
    /// The detail is an object naming the limit and the jobs.
    static func tooManyJobs(_ reached: JobLimitReached) -> APIError {
        var error = APIError(.tooManyRequests, "too many jobs: \(reached.description)")
        let retry = jobLimitRetryAfterSeconds
        var detail: [UInt8] = []
        detail.append(contentsOf: "{\"message\":".utf8)
        JSONEscaping.appendQuoted("wait until one of your jobs ends (`kg job list`), then try again; retry after \(retry) s", to: &detail)
        detail.append(contentsOf: ",\"limit\":\(reached.limit),\"retry_after_s\":\(retry),\"active_jobs\":[".utf8)
        for (index, id) in reached.activeJobIDs.enumerated() {
            if index > 0 { detail.append(UInt8(ascii: ",")) }
            JSONEscaping.appendQuoted(id, to: &detail)
        }
        detail.append(contentsOf: "]}".utf8)
        error.detailJSON = String(decoding: detail, as: UTF8.self)
        error.headers[.retryAfter] = String(retry)
        return error
    }
}

extension APIError {
    /// 429 with `Retry-After`: too many failed logins from this address or for this name.
    static func loginThrottled(_ refusal: LoginThrottle.Refusal) -> APIError {
        var error = APIError(
            .tooManyRequests, "too many failed logins for \(refusal.key)",
            detail: "\(refusal.limit) failed logins within login_failure_window_s; try again in \(refusal.retryAfterSeconds) s")
        error.headers[.retryAfter] = String(refusal.retryAfterSeconds)
        return error
    }
}
