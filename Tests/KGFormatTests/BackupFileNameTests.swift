import KGFormat
import XCTest

/// A backup's file name keeps the ontology's name readable in any script, and
/// is always one safe path component.
final class BackupFileNameTests: XCTestCase {
    func testNamesKeepLettersOfEveryScript() {
        XCTAssertEqual(BackupFileName.safeComponent("Philosophy of Mind"), "Philosophy_of_Mind")
        XCTAssertEqual(BackupFileName.safeComponent("Философия сознания"), "Философия_сознания")
        XCTAssertEqual(BackupFileName.safeComponent("心の哲学"), "心の哲学")
        XCTAssertEqual(BackupFileName.safeComponent("e\u{301}tude"), "\u{E9}tude", "NFC")
    }

    func testNamesAreOneSafeComponent() {
        XCTAssertEqual(BackupFileName.safeComponent("../../etc/passwd"), "_.._etc_passwd")
        for hostile in ["../x", "a/b", "a\\b", ".hidden", "a\u{0}b", "a\u{202E}b", "\n", "..", "💥", ""] {
            let safe = BackupFileName.safeComponent(hostile)
            XCTAssertFalse(safe.isEmpty, hostile)
            XCTAssertFalse(safe.hasPrefix("."), hostile)
            XCTAssertFalse(safe.contains("/") || safe.contains("\\") || safe.contains("\u{0}") || safe.contains("\u{202E}"), hostile)
        }
        XCTAssertEqual(BackupFileName.safeComponent("💥"), "ontology")
        XCTAssertLessThanOrEqual(BackupFileName.safeComponent(String(repeating: "я", count: 500)).utf8.count, 120)
    }
}
