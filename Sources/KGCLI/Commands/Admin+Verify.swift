import ArgumentParser
import Foundation
import KGClient
import KGFormat

extension Admin {
    /// `kg admin verify FILE [--json]`: checks a backup locally; no server needed.
    /// When the gateway answers, it also says what a restore there would do
    /// with the file's schema version (direct, convert, refuse). The external
    /// dependencies' counts come from the file only: the gateway has no cheap
    /// read-only way to say which of those concepts its graph holds.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a backup file's integrity locally (plain or gzip).",
            discussion: """
                Exit 0 when the file is valid, 1 when it is not. No server is needed; when one answers, the output \
                also says what a restore there would do with the file's schema version. For an ontology backup, it \
                counts the instances and relationships that name concepts the file does not hold, and says what each \
                --external-deps choice does with them (from the file alone: a merge connects those whose concept the \
                graph already holds, so fewer may be dropped or kept aside).
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Flag(help: "Do not ask the server about schema versions.") var offline = false
        @Argument(help: "A path, or a file name inside backup_dir.") var file: String

        func run() throws {
            let config = try CLIConfig.load()
            let path = LocalBackups.resolve(file, backupDir: config.backupDir)
            let report = BackupFileChecker.check(path: path, idMemoryBytes: CLIConfig.idCheckMemoryBytes)
            let plan = offline || !report.valid ? nil : restorePlan(report, config: config)
            if output.json {
                guard case .object(var members) = report.jsonValue else { return print(report.jsonText()) }
                if let plan {
                    members.append((key: "restore_plan", value: .object([
                        (key: "server", value: .string(plan.server)),
                        (key: "database_schema_version", value: .integer(plan.databaseVersion)),
                        (key: "action", value: .string(plan.action)),
                        (key: "message", value: .string(plan.plan.description)),
                    ])))
                }
                print(JSONValue.object(members).jsonText)
            } else {
                print("\(path)")
                print(report.renderText())
                if let plan {
                    print("restore into \(plan.server) (schema v\(plan.databaseVersion)): \(plan.plan)")
                }
            }
            if !report.valid { throw ExitCode(1) }
        }

        struct Plan {
            let server: String
            let databaseVersion: Int
            let plan: RestorePlan
            var action: String {
                switch plan {
                case .direct: return "direct"
                case .convert, .platform: return "convert"
                case .refuse: return "refuse"
                }
            }
        }

        /// Asks the gateway for its schema version (quickly; silence means offline).
        private func restorePlan(_ report: IntegrityReport, config: CLIConfig) -> Plan? {
            let server = global.serverURL(config)
            let client = HTTPClient(baseURL: server, token: nil, caCertPath: global.caCertPath(config), connectTimeout: 1, requestTimeout: 3)
            guard let response = try? client.request(method: "GET", path: "/schema"), response.isSuccess,
                  let object = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
                  let version = object["schema_version"] as? Int else { return nil }
            return Plan(server: server, databaseVersion: version,
                        plan: RestorePlan.make(backupVersion: report.schemaVersion, fromThisSystem: report.isFromThisSystem,
                                               databaseVersion: version))
        }
    }
}
