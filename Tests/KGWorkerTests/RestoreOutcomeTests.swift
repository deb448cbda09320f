import KGFormat
import XCTest

@testable import KGWorker

/// What the restore's stages hand on adds up to the job's result.
final class RestoreOutcomeTests: XCTestCase {
    private func params(_ mode: RestoreMode, externalDeps: ExternalDepsStrategy = .fail) -> RestoreJobParams {
        RestoreJobParams(
            mode: mode, dryRun: false, externalDeps: externalDeps, tempFile: "/nonexistent", fileName: nil, fileBytes: 0,
            backupType: "full_backup", ontology: nil, statistics: [:])
    }

    private func outcome(staged: RestoreJob.Staged = .init(), connected: [String: Int] = [:]) -> RestoreJob.Outcome {
        let loaded = RestoreJob.Loaded(sections: ["concepts"], counts: ["concepts": 3], directConcepts: 3, warnings: ["from the file"])
        let applied = RestoreJob.Applied(
            restored: ["concepts": 3, "sources": 1], updated: ["sources": 2], removed: ["concepts": 1],
            connected: connected, warnings: ["added 1 relationship type(s)"])
        return RestoreJob.Outcome(loaded: loaded, staged: staged, applied: applied, lockedFrom: "a", lockedUntil: "b")
    }

    /// A replace writes every record of the file: rows that existed count as restored, none as updated.
    func testAReplaceCountsUpdatedRowsAsRestored() {
        let result = outcome().result(params(.replace), plan: .direct(version: 3), seconds: 1.5)
        XCTAssertEqual(result.restored, ["concepts": 3, "sources": 3])
        XCTAssertEqual(result.updated, [:])
        XCTAssertEqual(result.removed, ["concepts": 1])
        XCTAssertNil(result.deferred)
        XCTAssertNil(result.connected)
        XCTAssertEqual(result.lockedFrom, "a")
        XCTAssertEqual(result.lockedUntil, "b")
        XCTAssertEqual(result.seconds, 1.5)
    }

    func testAMergeKeepsUpdatedApart() {
        let staged = RestoreJob.Staged(deferred: ["instances": 2, "relationships": 0], warnings: ["kept aside"])
        let result = outcome(staged: staged, connected: ["instances": 1]).result(params(.merge), plan: .convert(from: 1, to: 3), seconds: 0)
        XCTAssertEqual(result.restored, ["concepts": 3, "sources": 1])
        XCTAssertEqual(result.updated, ["sources": 2])
        XCTAssertEqual(result.deferred, ["instances": 2, "relationships": 0])
        XCTAssertEqual(result.connected, ["instances": 1])
        // The file's warnings, the staging checks', the apply's, then the conversion.
        XCTAssertEqual(
            result.warnings,
            [
                "from the file", "kept aside", "added 1 relationship type(s)",
                "converted: convert from schema v1 to v3 while restoring",
            ])
    }

    func testExternalDependencyMessages() {
        XCTAssertEqual(
            RestoreJob.externalDependencyRefusal(instances: 2, relationships: 3, concepts: 1),
            """
            2 instance links and 3 relationships name concepts that neither the backup nor the graph holds \
            (external dependencies, 1+ concepts); restore the ontologies that hold them first, or restore with \
            --external-deps prune to leave them out (or defer to connect them when their concepts arrive)
            """)
        let pruned = RestoreJob.Staged(pruned: ["instances": 4, "relationships": 5])
        XCTAssertEqual(
            RestoreJob.externalDependencyWarnings(pruned, strategy: .prune),
            [
                "left out 4 instance links and 5 relationships that name concepts outside the backup and the graph (--external-deps prune)"
            ])
        let deferred = RestoreJob.Staged(deferred: ["instances": 1, "relationships": 0])
        let warning = RestoreJob.externalDependencyWarnings(deferred, strategy: .stitch).first ?? ""
        XCTAssertTrue(warning.hasPrefix("kept aside 1 instance links and 0 relationships"), warning)
        XCTAssertTrue(warning.contains("`kg admin stitch --backup FILE` matches them by label and embedding"), warning)
        XCTAssertFalse(RestoreJob.externalDependencyWarnings(deferred, strategy: .deferred).first!.contains("--backup FILE"))
        XCTAssertEqual(RestoreJob.externalDependencyWarnings(deferred, strategy: .fail), [])
    }
}
