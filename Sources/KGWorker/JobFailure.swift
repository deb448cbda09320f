/// A job failure with a message for the user (stored in the job row's `error`).
struct JobFailure: Error, CustomStringConvertible {
    let description: String
    /// Whether another attempt could succeed (a lost connection) or not (bad input).
    let retryable: Bool

    init(_ description: String, retryable: Bool = false) {
        self.description = description
        self.retryable = retryable
    }
}

/// The job was cancelled (by the user, or because its client went away).
struct JobCancelled: Error, CustomStringConvertible {
    let description: String
    /// Another worker holds the job now: its row and temp files are that worker's.
    var takenOver = false
}
