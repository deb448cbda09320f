import KGClient
import XCTest

final class ContentDispositionFilenameTests: XCTestCase {
    func testQuotedFilename() {
        XCTAssertEqual(
            parseContentDispositionFilename(#"attachment; filename="full_backup_20240102_030405.json""#),
            "full_backup_20240102_030405.json")
    }

    func testTokenFilenameAndCaseInsensitiveName() {
        XCTAssertEqual(parseContentDispositionFilename("attachment; FileName=backup.json.gz"), "backup.json.gz")
        XCTAssertEqual(parseContentDispositionFilename("attachment;filename = backup.json ; size=3"), "backup.json")
    }

    func testQuotedStringEscapesAndSeparatorsInsideQuotes() {
        XCTAssertEqual(parseContentDispositionFilename(#"attachment; filename="a \"quoted\" name.json""#), #"a "quoted" name.json"#)
        XCTAssertEqual(parseContentDispositionFilename(#"attachment; filename="a;b=c.json"; x=1"#), "a;b=c.json")
        XCTAssertEqual(
            parseContentDispositionFilename(#"attachment; filename="back\\slash.json""#), "slash.json",
            "an escaped backslash is still a directory separator")
    }

    func testExtendedUTF8FilenameWinsOverPlainOne() {
        let header = #"attachment; filename="fallback.json"; filename*=UTF-8''%C3%A9t%C3%A9_backup.json"#
        XCTAssertEqual(parseContentDispositionFilename(header), "été_backup.json")
        XCTAssertEqual(parseContentDispositionFilename("attachment; filename*=utf-8'en'na%20me.json"), "na me.json")
        XCTAssertEqual(parseContentDispositionFilename("attachment; filename*=ISO-8859-1''caf%E9.json"), "café.json")
    }

    func testRawUTF8InQuotedFilename() {
        XCTAssertEqual(parseContentDispositionFilename(#"attachment; filename="日本語_backup.json""#), "日本語_backup.json")
    }

    func testBadExtendedValueFallsBackToPlainFilename() {
        XCTAssertEqual(parseContentDispositionFilename(#"attachment; filename*=UTF-8''%ZZ; filename="ok.json""#), "ok.json")
        XCTAssertEqual(
            parseContentDispositionFilename(#"attachment; filename*=UTF-8''%C3; filename="ok.json""#), "ok.json",
            "invalid UTF-8")
        XCTAssertEqual(parseContentDispositionFilename(#"attachment; filename*=KOI8-R''x; filename="ok.json""#), "ok.json")
    }

    func testDirectoriesAreStripped() {
        XCTAssertEqual(parseContentDispositionFilename(#"attachment; filename="../../etc/passwd""#), "passwd")
        XCTAssertEqual(parseContentDispositionFilename(#"attachment; filename="/etc/passwd""#), "passwd")
        XCTAssertEqual(parseContentDispositionFilename("attachment; filename=..\\..\\windows\\evil.txt"), "evil.txt")
        XCTAssertEqual(parseContentDispositionFilename("attachment; filename*=UTF-8''%2E%2E%2F%2E%2E%2Fetc%2Fpasswd"), "passwd")
    }

    func testUnsafeNamesAreRejected() {
        let hostile = [
            #"attachment; filename="..""#,
            #"attachment; filename=".""#,
            #"attachment; filename="foo/..""#,
            #"attachment; filename="dir/""#,
            #"attachment; filename="""#,
            #"attachment; filename="   ""#,
            "attachment; filename*=UTF-8''a%00b.json",
            "attachment; filename*=UTF-8''a%0Ab.json",
            "attachment; filename*=UTF-8''a%1Bb.json",
            "attachment; filename*=UTF-8''a%7Fb.json",
            "attachment; filename*=UTF-8''a%C2%85b.json",
            "attachment; filename=\"a\tb.json\"",
            "attachment; filename=\"\(String(repeating: "x", count: 256))\"",
        ]
        for header in hostile {
            XCTAssertNil(parseContentDispositionFilename(header), header.debugDescription)
        }
    }

    func testNoFilename() {
        XCTAssertNil(parseContentDispositionFilename("attachment"))
        XCTAssertNil(parseContentDispositionFilename("inline; name=\"x\""))
        XCTAssertNil(parseContentDispositionFilename(""))
    }
}
