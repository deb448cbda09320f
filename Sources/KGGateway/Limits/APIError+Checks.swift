import Hummingbird
import KGFormat

extension APIError {
    /// 413: `what` ("the upload") is larger than the gateway's `setting` (`max_upload_bytes`) of `max` bytes.
    static func tooLarge(_ what: String, max: Int, setting: String) -> APIError {
        APIError(.contentTooLarge, "\(what) is larger than this gateway accepts", detail: "at most \(max) bytes (\(setting))")
    }

    /// Throws ``tooLarge(_:max:setting:)`` when the request's declared `Content-Length` is over `max`,
    /// before a byte of the body is read (a body without one is bounded while it is read).
    static func refuseDeclaredLength(of request: Request, over max: Int, _ what: String, setting: String) throws {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > max {
            throw tooLarge(what, max: max, setting: setting)
        }
    }

    /// Seconds a client is told to wait when a backup check was refused for a limit.
    static let checkRetryAfterSeconds = 5

    /// 429 (the user's `max_verifies_per_user`) or 503 (the gateway's `max_concurrent_verifies`),
    /// both with `Retry-After`; the detail is an object naming the limit.
    static func tooManyChecks(_ refusal: CheckSlots.Refusal, username: String) -> APIError {
        let retry = checkRetryAfterSeconds
        var error: APIError
        let limit: Int
        let advice: String
        switch refusal {
        case .user(let running, let max):
            limit = max
            error = APIError(
                .tooManyRequests,
                "too many backup checks at once: \(username) already has \(running) running (max_verifies_per_user = \(max))")
            advice = "wait until your other check ends, then try again; retry after \(retry) s"
        case .gateway(let running, let max):
            limit = max
            error = APIError(
                .serviceUnavailable,
                "the gateway is busy: it is already running \(running) backup checks (max_concurrent_verifies = \(max))")
            advice = "try again in \(retry) s, or check the file locally with `kg admin verify FILE`"
        }
        var detail: [UInt8] = []
        detail.append(contentsOf: "{\"message\":".utf8)
        JSONEscaping.appendQuoted(advice, to: &detail)
        detail.append(contentsOf: ",\"limit\":\(limit),\"retry_after_s\":\(retry)}".utf8)
        error.detailJSON = String(decoding: detail, as: UTF8.self)
        error.headers[.retryAfter] = String(retry)
        return error
    }
}
