import KGTestSupport
import XCTest
@testable import KGGateway

final class MultipartUploadTests: XCTestCase {
    typealias Fixture = MultipartFixture

    func testFieldsAndFileInEveryChunking() throws {
        let file = Fixture.trickyContent() + Fixture.randomBytes(30_000, seed: 11)
        let body = Fixture.body(
            [
                .field("graph", "social"),
                .field("label", "caf\u{E9} \u{2713}"),
                .file(file, filename: "../../etc/passwd"),
                .field("mode", "replace"),
            ], preamble: Array("preamble".utf8), epilogue: Array("epilogue".utf8))
        let expected = MultipartUpload.Summary(
            fields: ["graph": "social", "label": "caf\u{E9} \u{2713}", "mode": "replace"],
            fileName: "../../etc/passwd", fileContentType: "application/octet-stream", fileBytes: file.count)

        var generator = SeededGenerator(seed: 5)
        var chunkings = (1...97).map { [$0] }
        chunkings += (0..<30).map { _ in (0..<16).map { _ in Int.random(in: 1...4096, using: &generator) } }
        chunkings.append([Int.max])
        for sizes in chunkings {
            let (summary, received) = try Fixture.upload(body, chunkSizes: sizes)
            XCTAssertEqual(summary, expected, "chunk sizes \(sizes)")
            XCTAssertTrue(received == file, "file bytes differ with chunk sizes \(sizes)")
        }
    }

    func testFileWithoutFilenameIsAccepted() throws {
        let (summary, received) = try Fixture.upload(Fixture.body([.file(Array("abc".utf8), filename: nil)]))
        XCTAssertNil(summary.fileName)
        XCTAssertEqual(received, Array("abc".utf8))
        XCTAssertEqual(summary.fileBytes, 3)
    }

    func testEmptyFileIsAccepted() throws {
        let (summary, received) = try Fixture.upload(Fixture.body([.file([])]))
        XCTAssertEqual(summary.fileBytes, 0)
        XCTAssertEqual(received, [])
    }

    func testNoFilePartThrows() {
        let body = Fixture.body([.field("graph", "social")])
        XCTAssertThrowsMultipartError(try Fixture.upload(body), .missingFilePart(fieldName: "file"))
        XCTAssertTrue(MultipartError.missingFilePart(fieldName: "file").description.contains("-F file=@PATH"))
    }

    func testTwoFilePartsThrow() {
        let twice = Fixture.body([.file(Array("one".utf8)), .file(Array("two".utf8))])
        XCTAssertThrowsMultipartError(try Fixture.upload(twice), .extraFilePart(name: "file"))
        let otherName = Fixture.body([.file(Array("one".utf8)), .file(Array("two".utf8), name: "attachment")])
        XCTAssertThrowsMultipartError(try Fixture.upload(otherName), .extraFilePart(name: "attachment"))
    }

    func testFieldOverTheLimitThrows() {
        let body = Fixture.body([.field("unknown", String(repeating: "x", count: 70_000)), .file([1])])
        for size in [1000, Int.max] {
            XCTAssertThrowsMultipartError(try Fixture.upload(body, chunkSizes: [size]), .fieldTooLarge(name: "unknown", limit: 64 * 1024))
        }
        let atLimit = Fixture.body([.field("small", String(repeating: "x", count: 100)), .file([1])])
        XCTAssertThrowsMultipartError(try Fixture.upload(atLimit, maxFieldBytes: 99), .fieldTooLarge(name: "small", limit: 99))
        XCTAssertEqual(try Fixture.upload(atLimit, maxFieldBytes: 100).0.fields["small"]?.count, 100)
    }

    func testDuplicateTooManyAndNonUTF8FieldsThrow() {
        XCTAssertThrowsMultipartError(
            try Fixture.upload(Fixture.body([.field("a", "1"), .field("a", "2"), .file([])])),
            .duplicateField(name: "a"))
        let many = (0...32).map { Fixture.Part.field("f\($0)", "v") } + [.file([])]
        XCTAssertThrowsMultipartError(try Fixture.upload(Fixture.body(many)), .tooManyFields(limit: 32))
        var binary = Fixture.Part.field("bin", "")
        binary.content = [0xFF, 0xFE]
        XCTAssertThrowsMultipartError(try Fixture.upload(Fixture.body([binary, .file([])])), .fieldNotUTF8(name: "bin"))
    }

    func testTruncatedUploadThrowsEndedEarly() {
        let body = Fixture.body([.field("graph", "g"), .file(Fixture.randomBytes(10_000, seed: 1))])
        XCTAssertThrowsMultipartError(try Fixture.upload(Array(body.dropLast(8)), chunkSizes: [512]), .endedEarly)
    }

    func testErrorMessagesNameTheCauseAndTheNextStep() {
        let errors: [MultipartError] = [
            .boundaryNotFound, .endedEarly, .malformedBoundaryLine, .malformedHeader(line: "x"), .headerTooLarge(limit: 1),
            .missingContentDisposition, .malformedContentDisposition("x"), .missingPartName, .fieldTooLarge(name: "x", limit: 1),
            .fieldNotUTF8(name: "x"), .duplicateField(name: "x"), .tooManyFields(limit: 1), .missingFilePart(fieldName: "file"),
            .extraFilePart(name: "x"),
        ]
        for error in errors {
            XCTAssertTrue(error.description.hasPrefix("the "), error.description)
            XCTAssertGreaterThan(error.description.count, 40, error.description)
        }
    }
}
