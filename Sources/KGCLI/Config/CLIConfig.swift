import Foundation
import KGFormat

/// The CLI's settings in `$XDG_CONFIG_HOME/kg/config.json` (default
/// `~/.config/kg/config.json`), written with mode 0600 because it holds the token.
struct CLIConfig {
    static let settableKeys = ["api_url", "backup_dir", "cacert", "backup_recipients", "identity_file"]
    /// Keys whose values are paths (stored absolute).
    static let pathKeys: Set<String> = ["backup_dir", "cacert", "identity_file"]

    var values: [String: String]
    let path: String

    static var environment: [String: String] { ProcessInfo.processInfo.environment }

    /// Memory of an integrity check's id facts before they spill to a temp file in
    /// `TMPDIR` (or /tmp): `KG_ID_CHECK_MEMORY_BYTES`, as for the gateway and worker.
    static var idCheckMemoryBytes: Int {
        environment["KG_ID_CHECK_MEMORY_BYTES"].flatMap(Int.init).flatMap { $0 >= 1 ? $0 : nil }
            ?? IntegrityChecker.defaultIDMemoryBytes
    }

    /// An integrity checker with the CLI's id-check memory.
    static func makeChecker() -> IntegrityChecker {
        IntegrityChecker(idMemoryBytes: idCheckMemoryBytes)
    }

    static var home: String { environment["HOME"] ?? NSHomeDirectory() }

    static var defaultPath: String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.config"
        return base + "/kg/config.json"
    }

    static var defaultBackupDir: String {
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/.local/share"
        return base + "/kg/backups"
    }

    static func load(path: String = defaultPath) throws -> CLIConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            return CLIConfig(values: [:], path: path)
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CLIError("the config file \(path) is not valid JSON: fix or delete it")
        }
        return CLIConfig(values: object.compactMapValues { $0 as? String }, path: path)
    }

    func save() throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let data = try JSONSerialization.data(withJSONObject: values, options: [.prettyPrinted, .sortedKeys])
        let temp = path + ".tmp"
        guard FileManager.default.createFile(atPath: temp, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw CLIError("cannot write the config file \(path)")
        }
        guard rename(temp, path) == 0 else { throw CLIError("cannot write the config file \(path): \(String(cString: strerror(errno)))") }
    }

    /// The effective backup directory (config, else the XDG default), with `~` expanded.
    var backupDir: String {
        let value = values["backup_dir"] ?? Self.defaultBackupDir
        return (value as NSString).expandingTildeInPath
    }

    var apiURL: String? { values["api_url"] }
}
