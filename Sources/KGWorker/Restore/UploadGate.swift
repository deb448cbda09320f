import Foundation

/// How a pipelined restore (``RestoreJobParams/pipelined``) learns the gateway's verdict on its
/// upload: through the job row, on the job's control connection, outside the restore's
/// transaction (a rollback must not take back what it wrote there).
struct UploadGate {
    /// The job's file once the gateway accepted the whole upload (its check passed), else nil.
    let accepted: () throws -> String?
    /// Gives the restore up unless the gateway accepted the upload meanwhile (one statement:
    /// only one of the two wins); true when given up.
    let giveUp: () throws -> Bool
    /// Called once with the job's file when the upload was accepted: the job owns it from then on.
    let onAccepted: (String) -> Void
    /// Seconds without a new byte, or without the verdict once every byte is in, before the
    /// restore gives the upload up (`restore_pipeline_stall_s`).
    var stallSeconds: Double = 60
}

/// A pipelined restore that stopped (failed, cancelled, or its upload given up) before the gateway
/// accepted its upload: nothing reached the graph, and the upload's end decides what follows.
/// ``RiskyOperation`` discards its checkpoint rather than keep it for inspection.
struct UploadNotAccepted: Error, CustomStringConvertible {
    let failure: JobFailure

    var description: String { failure.description }
}
