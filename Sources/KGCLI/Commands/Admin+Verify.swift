import ArgumentParser
import Foundation
import KGFormat

extension Admin {
    /// `kg admin verify FILE [--json]`: checks a backup locally; no server needed.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a backup file's integrity locally (plain or gzip).",
            discussion: "Exit 0 when the file is valid, 1 when it is not.")

        @OptionGroup var output: OutputOptions
        @Argument(help: "A path, or a file name inside backup_dir.") var file: String

        func run() throws {
            let config = try CLIConfig.load()
            let path = LocalBackups.resolve(file, backupDir: config.backupDir)
            let report = BackupFileChecker.check(path: path)
            if output.json {
                print(report.jsonText())
            } else {
                print("\(path)")
                print(report.renderText())
            }
            if !report.valid { throw ExitCode(1) }
        }
    }
}
