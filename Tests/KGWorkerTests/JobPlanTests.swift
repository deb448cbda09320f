import KGFormat
import XCTest

@testable import KGWorker

/// Each job's plan, declared once in `JobType+Plan.swift`: its stages and the
/// arithmetic that turns items done into the job's percent.
final class JobPlanTests: XCTestCase {
    func testEveryPlanCoversZeroToHundredWithoutGoingBack() {
        for type in JobType.allCases {
            let steps = type.plan.steps
            XCTAssertEqual(steps.first?.low, 0, "\(type)")
            XCTAssertEqual(steps.last?.high, 100, "\(type)")
            for (step, next) in zip(steps, steps.dropFirst()) {
                XCTAssertLessThanOrEqual(step.low, step.high, "\(type) \(step.stage)")
                XCTAssertEqual(step.high, next.low, "\(type): \(step.stage) ends where \(next.stage) starts")
            }
            XCTAssertEqual(Set(steps.map(\.stage)).count, steps.count, "\(type): a stage once")
        }
    }

    func testPercentWithinAStage() {
        let prune = JobType.prune.plan
        XCTAssertEqual(prune.percent(.pruning, processed: 50, total: 100), 67.5)
        XCTAssertEqual(prune.percent(.pruning, processed: 0, total: 100), 40)
        XCTAssertEqual(prune.percent(.pruning, processed: 100, total: 100), 95)
        // More done than announced (rows added meanwhile) stays at the stage's top.
        XCTAssertEqual(prune.percent(.pruning, processed: 150, total: 100), 95)
        XCTAssertEqual(JobType.restore.plan.percent(.loading, processed: 1, total: 2), 30.5)
    }

    /// The one rule for a stage with nothing to do: it is complete (the top of its range).
    /// (The restore reported the bottom, prune and stitch the top, before the plans were one.)
    func testAStageWithNothingToDoIsComplete() {
        XCTAssertEqual(JobType.prune.plan.percent(.pruning, processed: 0, total: 0), 95)
        XCTAssertEqual(JobType.restore.plan.percent(.restoringVocabulary, processed: 0, total: 0), 52)
        XCTAssertEqual(JobType.backup.plan.percent(.exported, processed: 0, total: 0), 100)
        XCTAssertEqual(JobPlan.fraction(processed: 0, total: 0), 1)
        XCTAssertEqual(JobPlan.fraction(processed: -1, total: 4), 0)
    }

    func testAStageOutsideThePlanSpansTheWholeJob() {
        let range = JobType.stitch.plan.range(of: .loading)
        XCTAssertEqual(range.low, 0)
        XCTAssertEqual(range.high, 100)
    }

    /// The CLI's restore board (``RestoreStage/successPath``) shows the restore plan's stages, in order.
    func testTheRestorePlanIsTheRestoreBoard() {
        let board = RestoreStage.successPath.filter { $0 != .completed }.map(JobStage.init)
        XCTAssertEqual(JobType.restore.plan.stages, board)
        for stage in RestoreStage.allCases { XCTAssertEqual(JobStage(stage).rawValue, stage.rawValue) }
    }

    /// The CLI's prune and ontology delete boards (``GraphOperation/stages``) show the plans' stages.
    func testTheGraphOperationPlansAreTheirBoards() {
        for operation in GraphOperation.allCases {
            XCTAssertEqual(JobType(operation).plan.stages.map(\.rawValue), operation.stages.map(\.name), "\(operation)")
            XCTAssertEqual(JobType(operation).rawValue, operation.rawValue)
        }
    }

    /// The checkpoint pattern injects its test failure after the plan's last stage, and writes
    /// the checkpoint inside the plan's `creating_checkpoint` range.
    func testRiskyJobsHaveACheckpointStageAndEndVerifiedOrCommitted() {
        XCTAssertEqual(JobType.restore.plan.lastStage, .committing)
        for type in [JobType.prune, .ontologyDelete, .stitch] {
            XCTAssertEqual(type.plan.lastStage, .verifying, "\(type)")
            XCTAssertTrue(type.plan.stages.contains(.creatingCheckpoint), "\(type)")
        }
        XCTAssertEqual(JobType.stitch.plan.range(of: .creatingCheckpoint).low, 30)
        XCTAssertEqual(JobType.stitch.plan.range(of: .creatingCheckpoint).high, 60)
    }

    func testJobTypesAsStoredAndWhatTheRunnerDecidesByThem() {
        XCTAssertEqual(JobType.allCases.map(\.rawValue), ["backup", "restore", "prune", "ontology_delete", "stitch"])
        XCTAssertEqual(JobType.allCases.filter { !$0.runsAgain }, [.backup])
        XCTAssertEqual(JobType.allCases.filter(\.removesUploadWhenDone), [.restore, .stitch])
        XCTAssertEqual(JobType.ontologyDelete.name, "ontology delete")
    }
}
