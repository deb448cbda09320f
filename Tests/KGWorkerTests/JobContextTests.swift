import Logging
import XCTest

@testable import KGWorker

/// The production reporter without a job row (no database, no broker): the events
/// it publishes, its never-falling percent, nested scopes and the stage test hook.
final class JobContextTests: XCTestCase {
    private func makeContext(_ sink: StatusRecorder, type: JobType = .restore) -> JobContext {
        JobContext(
            jobID: "00000000-0000-0000-0000-000000000001", jobType: type, control: nil, events: sink,
            logger: Logger(label: "kg-worker-tests"), progressInterval: 0, heartbeatInterval: 60)
    }

    func testEventsNameTheJobAndThePercentNeverGoesDown() throws {
        let sink = StatusRecorder()
        let context = makeContext(sink)
        try context.report(.loading, of: RestoreJob.plan, done: 1, total: 2, message: "loading concepts")
        try context.report(.checking, of: RestoreJob.plan, done: 0, total: 1, force: true)
        XCTAssertEqual(sink.events.map(\.event), ["progress", "progress"])
        XCTAssertEqual(sink.events.first?.body["job_type"] as? String, "restore")
        XCTAssertEqual(sink.progress.map { $0["stage"] as? String }, ["loading", "checking"])
        XCTAssertEqual(sink.progress.map { $0["percent"] as? Double }, [30.5, 30.5])
        XCTAssertEqual(sink.progress.first?["items_processed"] as? Int, 1)
        XCTAssertEqual(context.currentPercent, 30.5)
    }

    /// A nested job (the checkpoint's backup) reports inside the outer job's stage.
    func testANestedJobReportsInsideTheOuterStage() throws {
        let sink = StatusRecorder()
        let context = makeContext(sink)
        let scope = JobContext.Scope(stage: .creatingCheckpoint, low: 10, high: 11, prefix: "writing checkpoint c.json")
        try context.within(scope) {
            try context.report(.exporting, of: JobType.backup.plan, done: 1, total: 2, message: "exporting concepts")
        }
        try context.report(.loading, of: RestoreJob.plan, done: 0, total: 10)
        XCTAssertEqual(sink.progress.map { $0["stage"] as? String }, ["creating_checkpoint", "loading"])
        XCTAssertEqual(sink.progress.first?["percent"] as? Double, 10.5)
        XCTAssertEqual(sink.progress.first?["message"] as? String, "writing checkpoint c.json: exporting concepts")
    }

    /// `test_fail_after_stage`: the job fails once, when it leaves the named stage (not inside a nested job).
    func testTheStageHookFailsTheJobWhenItLeavesTheStage() throws {
        let context = makeContext(StatusRecorder())
        context.failAfterStage = "loading"
        let scope = JobContext.Scope(stage: .creatingCheckpoint, low: 10, high: 11, prefix: "writing checkpoint")
        try context.report(.checking, of: RestoreJob.plan, done: 1, total: 1)
        try context.within(scope) { try context.report(.counting, of: JobType.backup.plan, done: 0, total: 0) }
        try context.report(.loading, of: RestoreJob.plan, done: 1, total: 2)
        try context.report(.loading, of: RestoreJob.plan, done: 2, total: 2)
        XCTAssertThrowsError(try context.report(.restoringVocabulary, of: RestoreJob.plan, done: 0, total: 1)) { error in
            XCTAssertEqual((error as? JobFailure)?.kind, .injected)
            XCTAssertEqual("\(error)", "test failure injected after stage loading (test_fail_after_stage)")
        }
        try context.report(.restoringConcepts, of: RestoreJob.plan, done: 0, total: 1)
        XCTAssertNoThrow(try context.passed(stage: .loading), "once only")
    }

    func testWithoutAJobRowThereIsNothingToUpdate() {
        XCTAssertThrowsError(try makeContext(StatusRecorder()).withControl { _ in 1 }) { error in
            XCTAssertEqual((error as? JobFailure)?.kind, .unexpected)
        }
    }
}
