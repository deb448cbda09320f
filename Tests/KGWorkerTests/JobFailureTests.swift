import KGDatabase
import XCTest

@testable import KGWorker

/// A failure's kind decides what becomes of the job; its message is what users see.
final class JobFailureTests: XCTestCase {
    func testAFailureFailsTheJobWithItsMessage() {
        for kind in [JobFailure.Kind.badInput, .refused, .storage, .integrity, .injected, .unexpected] {
            let failure = JobFailure(kind, "the backup is invalid: x")
            for type in JobType.allCases {
                XCTAssertEqual(failure.disposition(type), .fail("the backup is invalid: x"), "\(kind) \(type)")
            }
            XCTAssertFalse(failure.isStop)
        }
    }

    func testACancelCancelsAndATakeOverLeavesTheRowToItsNewHolder() {
        let cancelled = JobFailure(.cancelled, "cancelled by alice")
        let taken = JobFailure(.takenOver, "another worker took this job over")
        for type in JobType.allCases {
            XCTAssertEqual(cancelled.disposition(type), .cancel("cancelled by alice"))
            XCTAssertEqual(taken.disposition(type), .leave)
        }
        XCTAssertTrue(cancelled.isStop)
        XCTAssertTrue(taken.isStop)
    }

    /// A lost database runs the job again, except a backup, whose download already broke off.
    func testALostDatabaseRunsTheJobAgainButFailsABackup() {
        let lost = JobFailure(PGError("server closed the connection unexpectedly"))
        XCTAssertEqual(lost.kind, .databaseLost)
        for type in [JobType.restore, .prune, .ontologyDelete, .stitch] {
            XCTAssertEqual(lost.disposition(type), .runAgain, "\(type)")
        }
        XCTAssertEqual(
            lost.disposition(.backup),
            .fail(
                """
                the database connection was lost during the backup (server closed the connection unexpectedly); \
                the download was interrupted: take a new backup
                """))
    }

    func testAnyErrorBecomesAFailureWithItsOwnMessage() {
        let kept = JobFailure(JobFailure(.refused, "there is no ontology \"x\"; nothing was changed"))
        XCTAssertEqual(kept.kind, .refused)
        XCTAssertEqual(kept.description, "there is no ontology \"x\"; nothing was changed")
        let refused = JobFailure(PGError(sqlState: "22007", "invalid input syntax for type timestamp"))
        XCTAssertEqual(refused.kind, .unexpected, "a data error is no connection failure")
        XCTAssertEqual(refused.description, "invalid input syntax for type timestamp")
        struct Odd: Error, CustomStringConvertible { var description: String { "odd" } }
        XCTAssertEqual(JobFailure(Odd()).description, "odd")
    }
}
