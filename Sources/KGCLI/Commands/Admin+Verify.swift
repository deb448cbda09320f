import ArgumentParser
import Foundation
import KGAge
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
            abstract: "Check a backup file's integrity locally (plain or gzip), and its .sha256 digest when it has one.",
            discussion: """
                Exit 0 when the file is valid, 1 when it is not. When FILE.sha256 is beside it (every backup kg \
                saves has one), the file's SHA-256 is compared with it on the same read: a mismatch is damage \
                (bit rot, truncation, tampering) and exit 1 even when the format reads valid. No server is needed; when one answers, the output \
                also says what a restore there would do with the file's schema version. For an ontology backup, it \
                counts the instances and relationships that name concepts the file does not hold, and says what each \
                --external-deps choice does with them (from the file alone: a merge connects those whose concept the \
                graph already holds, so fewer may be dropped or kept aside).

                EXAMPLES:
                  kg admin verify full_backup_20261128_101500.json
                  kg admin verify ~/Downloads/backup.json.gz --offline --json
                  kg admin verify full_backup_20261128_101500.json.zst.age --identity ~/keys/kg-backups.txt
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var decryption: DecryptionOptions
        @Flag(help: "Do not ask the server about schema versions.") var offline = false
        @Argument(help: "A path, or a file name inside backup_dir.") var file: String

        func run() throws {
            let config = try CLIConfig.load()
            let path = LocalBackups.resolve(file, backupDir: config.backupDir)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw CLIError(
                    isDirectory.boolValue
                        ? "\(path) is a directory, not a backup file"
                        : "no such file: \(path). FILE is a path, or a name inside backup_dir (\(config.backupDir)); "
                            + "`kg admin list-backups` shows them.")
            }
            var (report, digest) = (IntegrityReport?.none, DigestFile.Status.absent)
            var damage: String?
            if AgeFileCheck.isAge(path) {
                // Encrypted: decrypted in memory as it is read; a wrong key stops here (exit 1).
                let checked = try AgeFileCheck.check(path: path, key: try decryption.key(config, for: path))
                (report, digest, damage) = (checked.report, checked.digest, checked.damage)
            } else {
                (report, digest) = CheckProgress.checkWithDigest(path: path)
            }
            guard let report else { return }
            if let damage, !digest.isDamage {
                // The encryption's own authentication caught a change: damage, as a digest mismatch is.
                digest = .damaged(damage)
            }
            let plan = offline || !report.valid || digest.isDamage ? nil : restorePlan(report, config: config)
            if output.json {
                guard case .object(var members) = report.jsonValue else { return print(report.jsonText()) }
                members.append((key: "digest", value: Self.digestJSON(digest, path: path)))
                if let plan {
                    members.append(
                        (
                            key: "restore_plan",
                            value: .object([
                                (key: "server", value: .string(plan.server)),
                                (key: "database_schema_version", value: .integer(plan.databaseVersion)),
                                (key: "action", value: .string(plan.action)),
                                (key: "message", value: .string(plan.plan.description)),
                            ])
                        ))
                }
                print(JSONValue.object(members).jsonText)
            } else {
                print("\(path)")
                print(report.renderText())
                print(Self.digestText(digest, path: path))
                if let plan {
                    print("restore into \(plan.server) (schema v\(plan.databaseVersion)): \(plan.plan)")
                }
            }
            if !report.valid || digest.isDamage { throw ExitCode(1) }
        }

        /// The digest's verdict, apart from the format's findings: damage is not a format error.
        static func digestText(_ digest: DigestFile.Status, path: String) -> String {
            let sidecar = DigestFile.path(for: path)
            switch digest {
            case .absent:
                return "digest: none (no \((sidecar as NSString).lastPathComponent) beside the file; nothing to compare)"
            case .ok(let hex):
                return "digest: ok (sha256 \(hex) matches \((sidecar as NSString).lastPathComponent))"
            case .damaged(let why):
                return "DAMAGED: \(why)"
            case .unreadable(let why):
                return "DAMAGED: the digest file cannot be used: \(why).\nNext step: restore the file and its .sha256 "
                    + "from another copy, or remove the .sha256 if you know the file is good."
            case .mismatch(let expected, let actual):
                return """
                    DAMAGED: the file's bytes are not those it was saved with (bit rot, truncation or tampering): \
                    sha256 \(actual), \((sidecar as NSString).lastPathComponent) says \(expected).
                    Next step: do not restore it; use another copy of this backup (and its .sha256), or take a new backup.
                    """
            }
        }

        static func digestJSON(_ digest: DigestFile.Status, path: String) -> JSONValue {
            var members: [(key: String, value: JSONValue)] = [
                (key: "status", value: .string(digest.word)),
                (key: "file", value: .string(DigestFile.path(for: path))),
            ]
            switch digest {
            case .ok(let hex): members.append((key: "sha256", value: .string(hex)))
            case .mismatch(let expected, let actual):
                members.append((key: "sha256", value: .string(actual)))
                members.append((key: "expected", value: .string(expected)))
            case .unreadable(let why), .damaged(let why): members.append((key: "message", value: .string(why)))
            case .absent: break
            }
            return .object(members)
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
                let version = object["schema_version"] as? Int
            else { return nil }
            return Plan(
                server: server, databaseVersion: version,
                plan: RestorePlan.make(
                    backupVersion: report.schemaVersion, fromThisSystem: report.isFromThisSystem,
                    databaseVersion: version))
        }
    }
}
