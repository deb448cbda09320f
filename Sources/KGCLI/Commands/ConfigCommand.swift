import ArgumentParser
import Foundation

/// `kg config list | get KEY | set KEY VALUE`.
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show or change the CLI's settings.",
        discussion: """
            Keys: api_url (the gateway), backup_dir (where backups are kept; default ~/.local/share/kg/backups), \
            cacert (a CA certificate, PEM, to trust for an HTTPS gateway with a private CA).
            """,
        subcommands: [List.self, Get.self, Set.self])

    /// Every effective setting, with where it comes from.
    static func effective(_ config: CLIConfig) -> [(key: String, value: String)] {
        var rows: [(String, String)] = []
        rows.append(("api_url", config.apiURL ?? "http://127.0.0.1:8080 (default)"))
        rows.append(("backup_dir", config.values["backup_dir"] ?? "\(CLIConfig.defaultBackupDir) (default)"))
        rows.append(("cacert", config.values["cacert"] ?? "(system CA store)"))
        if let user = config.values["username"] { rows.append(("username", user)) }
        rows.append(("token", config.values["token"] == nil ? "(not logged in)" : "(set)"))
        rows.append(("config_file", config.path))
        return rows
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the settings.")
        @OptionGroup var output: OutputOptions

        func run() throws {
            let rows = ConfigCommand.effective(try CLIConfig.load())
            if output.json {
                var object: [String: String] = [:]
                for row in rows { object[row.key] = row.value }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for row in rows { print("\(row.key.padding(toLength: 12, withPad: " ", startingAt: 0)) \(row.value)") }
            }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one setting.")
        @Argument(help: "api_url or backup_dir.") var key: String

        func validate() throws {
            guard CLIConfig.settableKeys.contains(key) else {
                throw ValidationError("unknown key \(key); keys: \(CLIConfig.settableKeys.joined(separator: ", "))")
            }
        }

        func run() throws {
            let config = try CLIConfig.load()
            switch key {
            case "backup_dir": print(config.backupDir)
            case "cacert": print(config.values["cacert"] ?? "")
            default: print(config.apiURL ?? "http://127.0.0.1:8080")
            }
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change one setting.")
        @Argument(help: "api_url or backup_dir.") var key: String
        @Argument(help: "The new value.") var value: String

        func validate() throws {
            guard CLIConfig.settableKeys.contains(key) else {
                throw ValidationError("unknown key \(key); keys: \(CLIConfig.settableKeys.joined(separator: ", "))")
            }
            if key == "api_url", !(value.hasPrefix("http://") || value.hasPrefix("https://")) {
                throw ValidationError("api_url must start with http:// or https://")
            }
            if key == "cacert", !FileManager.default.isReadableFile(atPath: (value as NSString).expandingTildeInPath) {
                throw ValidationError("cannot read the CA certificate \(value): give the path of a PEM file")
            }
        }

        func run() throws {
            var config = try CLIConfig.load()
            let absolute = key == "cacert" ? URL(fileURLWithPath: (value as NSString).expandingTildeInPath).path : value
            config.values[key] = key == "backup_dir" ? (value as NSString).expandingTildeInPath : absolute
            try config.save()
            print("\(key) = \(config.values[key]!)")
        }
    }
}
