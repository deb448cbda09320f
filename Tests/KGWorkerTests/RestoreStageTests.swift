import Foundation
import KGFormat
import XCTest

@testable import KGWorker

/// The restore's stages that need no database: checking the file and the
/// checkpoint stage, run against temp files with a recording reporter.
final class RestoreStageTests: XCTestCase {
    private var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("kg-worker-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private static let metadata = """
        "version":"1.0","type":"full_backup","timestamp":"2026-11-28T11:40:30.991Z","ontology":null,"schema_version":3,\
        "producer":{"name":"kg","version":"0.1.0"},\
        "statistics":{"concepts":1,"sources":0,"instances":0,"relationships":0,"vocabulary":0}
        """
    private static let data = """
        "data":{"vocabulary":[],"concepts":[{"concept_id":"c1","label":"One","search_terms":["one"],"embedding":null}],\
        "sources":[],"instances":[],"relationships":[]}
        """

    private func restore(_ text: String?, dryRun: Bool = false, checkpoint: Bool? = nil) throws -> (RestoreJob, RecordingReporter) {
        let path = folder.appendingPathComponent("upload.json").path
        if let text { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) }
        let params = RestoreJobParams(
            mode: .replace, dryRun: dryRun, externalDeps: .fail, tempFile: path, fileName: "upload.json",
            fileBytes: text?.utf8.count ?? 0, backupType: "full_backup", ontology: nil,
            statistics: ["concepts": 1], checkpoint: checkpoint)
        let reporter = RecordingReporter()
        let settings = RestoreJob.Settings(jobID: "00000000-0000-0000-0000-000000000002", tempDirectory: folder.path)
        return (RestoreJob(params: params, reporter: reporter, settings: settings), reporter)
    }

    /// Metadata first (kg's files): the plan comes from a peek; the full check rides along with loading.
    func testAFileWithItsMetadataFirstIsPlannedFromAPeek() throws {
        let text = "{\(Self.metadata),\(Self.data)}"
        let (job, reporter) = try restore(text)
        let file = try job.checkFile(databaseSchemaVersion: 3)
        XCTAssertEqual(file.plan, .direct(version: 3))
        XCTAssertNil(file.integrity, "no separate pass")
        XCTAssertEqual(file.bytes, text.utf8.count)
        XCTAssertEqual(reporter.stages, [.checking])
        XCTAssertEqual(reporter.reports.map(\.percent), [0, 10])
        XCTAssertEqual(reporter.reports.last?.processed, text.utf8.count)
    }

    /// Data first: a full check pass learns the plan (an older schema converts).
    func testAFileWithItsDataFirstIsCheckedInFull() throws {
        let (job, _) = try restore("{\(Self.data),\(Self.metadata)}")
        let file = try job.checkFile(databaseSchemaVersion: 4)
        XCTAssertEqual(file.plan, .convert(from: 3, to: 4))
        let integrity = try XCTUnwrap(file.integrity)
        XCTAssertTrue(integrity.valid, "\(integrity.errors)")
        XCTAssertEqual(integrity.counts["concepts"], 1)
    }

    func testAnInvalidFileIsRefusedWithItsFindings() throws {
        let (job, _) = try restore("{\"data\":{\"concepts\":[{\"label\":\"no id\"}]},\(Self.metadata)}")
        XCTAssertThrowsError(try job.checkFile(databaseSchemaVersion: 3)) { error in
            XCTAssertEqual((error as? JobFailure)?.kind, .badInput)
            XCTAssertTrue("\(error)".hasPrefix("the backup is invalid: ["), "\(error)")
        }
    }

    func testANewerBackupIsRefusedBeforeAnythingElse() throws {
        let (job, reporter) = try restore("{\(Self.metadata),\(Self.data)}")
        XCTAssertThrowsError(try job.checkFile(databaseSchemaVersion: 2)) { error in
            XCTAssertEqual((error as? JobFailure)?.kind, .badInput)
            XCTAssertEqual("\(error)", "backup needs schema v3, database is at v2: apply migrations first (kg-gateway migrate)")
        }
        XCTAssertEqual(reporter.reports.map(\.percent), [0], "the stage did not finish")
    }

    func testAnUploadGoneFromTempStorageSaysSo() throws {
        let (job, _) = try restore(nil)
        XCTAssertThrowsError(try job.checkFile(databaseSchemaVersion: 3)) { error in
            XCTAssertEqual((error as? JobFailure)?.kind, .storage)
            XCTAssertEqual("\(error)", "the uploaded file is gone from temp storage (\(job.params.tempFile)); upload it again")
        }
    }

    /// The whole file must agree with the header the plan was made from.
    func testAHeaderContradictedByTheFileIsRefused() throws {
        let (job, _) = try restore("{\(Self.data),\(Self.metadata)}")
        let checked = try XCTUnwrap(job.checkFile(databaseSchemaVersion: 3).integrity)
        XCTAssertNoThrow(try RestoreJob.confirm(.direct(version: 3), by: checked, databaseSchemaVersion: 3))
        XCTAssertThrowsError(try RestoreJob.confirm(.platform(to: 3), by: checked, databaseSchemaVersion: 3)) { error in
            XCTAssertEqual(
                "\(error)",
                """
                the backup's schema information comes after its data and contradicts its header (direct restore (schema v3)); \
                rewrite it with the metadata first
                """)
        }
    }

    func testTheCheckpointStageSaysWhyThereIsNone() throws {
        XCTAssertEqual(RestoreJob.noCheckpointReason(try restore(nil, dryRun: true).0.params), "a dry run changes nothing")
        XCTAssertEqual(RestoreJob.noCheckpointReason(try restore(nil, checkpoint: false).0.params), "skipped (--no-checkpoint)")
        XCTAssertEqual(RestoreJob.noCheckpointReason(try restore(nil).0.params), "not needed: the restore runs in one transaction")
        let reporter = RecordingReporter()
        try reporter.checkpointStage(nil, of: RestoreJob.plan, skipped: "a dry run changes nothing")
        XCTAssertEqual(
            reporter.reports,
            [
                .init(
                    stage: .creatingCheckpoint, percent: 11, processed: 1, total: 1,
                    message: "a dry run changes nothing", force: true)
            ])
    }

    func testTheCheckpointStageWritesItBetweenTwoReports() throws {
        let reporter = RecordingReporter()
        var written = 0
        try reporter.checkpointStage(
            {
                written += 1
                XCTAssertEqual(reporter.reports.count, 1)
            }, of: JobType.prune.plan)
        XCTAssertEqual(written, 1)
        XCTAssertEqual(reporter.reports.map(\.percent), [5, 40])
        XCTAssertEqual(reporter.reports.first?.message, "writing a full backup of the graph")
    }

    /// A cancel seen at a report stops the stage there.
    func testACancelStopsTheCheck() throws {
        let (job, reporter) = try restore("{\(Self.metadata),\(Self.data)}")
        reporter.stop = JobFailure(.cancelled, "cancelled")
        XCTAssertThrowsError(try job.checkFile(databaseSchemaVersion: 3)) { error in
            XCTAssertEqual((error as? JobFailure)?.disposition(.restore), .cancel("cancelled"))
        }
    }
}
