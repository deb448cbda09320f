import KGDatabase

/// Why a job did not complete. Its ``kind`` decides what becomes of the job
/// (``Disposition``: failed, cancelled, left to another worker, or run again);
/// its `description` is the message users see, stored in the job row's `error`.
struct JobFailure: Error, CustomStringConvertible {
    enum Kind: Equatable, Sendable {
        /// The file or the request cannot be used as it is (invalid, refused by the database, wrong version).
        case badInput
        /// The job cannot run now or here: the graph is busy (`--no-wait`), the named thing is not there.
        case refused
        /// Temp storage: a file gone, unreadable or unwritable; a checkpoint that could not be written.
        case storage
        /// The graph failed an integrity check after the operation (rolled back).
        case integrity
        /// A test hook failed the job on purpose (`test_fail_after_stage`).
        case injected
        /// Cancelled by the user (or the client went away).
        case cancelled
        /// Another worker holds the job now: its row and temp files are that worker's.
        case takenOver
        /// The database went away mid-job: the transaction rolled back.
        case databaseLost
        /// Anything else (a bug, an unexpected error from a library).
        case unexpected
    }

    let kind: Kind
    let description: String

    init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }

    /// Any error as a failure: a ``JobFailure`` as it is, a lost database connection as
    /// `databaseLost`, anything else `unexpected`; the message is the error's own.
    init(_ error: Error) {
        if let failure = error as? JobFailure {
            self = failure
        } else if let ended = error as? UploadNotAccepted {
            self = ended.failure
        } else if let pg = error as? PGError, pg.isConnectionFailure {
            self.init(.databaseLost, "\(error)")
        } else {
            self.init(.unexpected, "\(error)")
        }
    }

    /// True for a stop rather than a failure: cancelled or taken over.
    var isStop: Bool { kind == .cancelled || kind == .takenOver }

    /// What becomes of a job that ended with this failure.
    enum Disposition: Equatable {
        /// The row becomes `failed` with this message.
        case fail(String)
        /// The row becomes `cancelled` with this reason.
        case cancel(String)
        /// Nothing: the new holder owns the row and the temp files.
        case leave
        /// The message goes back to the queue; the row, still running with no live holder, is taken over.
        case runAgain
    }

    /// The disposition of a `jobType` job ending with this failure.
    func disposition(_ jobType: JobType) -> Disposition {
        switch kind {
        case .cancelled: return .cancel(description)
        case .takenOver: return .leave
        case .databaseLost where jobType.runsAgain: return .runAgain
        case .databaseLost:
            return .fail("the database connection was lost during the backup (\(description)); the download was interrupted: take a new backup")
        default: return .fail(description)
        }
    }
}
