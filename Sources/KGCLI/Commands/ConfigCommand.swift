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

    /// One effective setting: its value (nil when unset; a token's is never
    /// shown, only `set`) and where it came from, in `git config --show-origin`'s
    /// terms: `environment:VARIABLE`, `config:PATH` or `default`.
    struct Setting {
        let key: String
        let value: String?
        let origin: String
    }

    /// Every effective setting, as a command without `--server`/`--token`/`--cacert` sees it.
    static func effective(_ config: CLIConfig) -> [Setting] {
        let environment = CLIConfig.environment
        func pick(_ key: String, variable: String?, fallback: String?) -> Setting {
            if let variable, let value = environment[variable], !value.isEmpty {
                return Setting(key: key, value: value, origin: "environment:\(variable)")
            }
            if let value = config.values[key] { return Setting(key: key, value: value, origin: "config:\(config.path)") }
            return Setting(key: key, value: fallback, origin: fallback == nil ? "unset" : "default")
        }
        var rows = [
            pick("api_url", variable: "KG_API_URL", fallback: "http://127.0.0.1:8080"),
            pick("backup_dir", variable: nil, fallback: CLIConfig.defaultBackupDir),
            pick("cacert", variable: "KG_CACERT", fallback: nil),
        ]
        for key in ["backup_recipients", "identity_file"] {
            if let value = config.values[key] { rows.append(Setting(key: key, value: value, origin: "config:\(config.path)")) }
        }
        if let user = config.values["username"] {
            rows.append(Setting(key: "username", value: user, origin: "config:\(config.path)"))
        }
        var token = pick("token", variable: "KG_TOKEN", fallback: nil)
        if token.origin != "environment:KG_TOKEN", let file = environment["KG_TOKEN_FILE"], !file.isEmpty {
            token = Setting(key: "token", value: file, origin: "environment:KG_TOKEN_FILE")
        }
        rows.append(Setting(key: "token", value: token.value == nil ? nil : "set", origin: token.origin))
        if let issuer = config.values["token_server"] {
            rows.append(Setting(key: "token_server", value: issuer, origin: "config:\(config.path)"))
        }
        return rows
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the effective settings and where each comes from.",
            discussion: """
                Each setting's value and origin: environment:VARIABLE, config:FILE or default. A token is \
                never printed (its value shows as `set`). --json prints {"settings": [{"key", "value", \
                "origin"}, …]} in this order, with null for an unset value.

                EXAMPLES:
                  kg config list
                  kg config list --json
                """)
        @OptionGroup var output: OutputOptions

        func run() throws {
            let rows = ConfigCommand.effective(try CLIConfig.load())
            if output.json {
                let settings = rows.map { row -> String in
                    "{\"key\":\(JSONText.string(row.key)),\"value\":\(row.value.map(JSONText.string) ?? "null"),"
                        + "\"origin\":\(JSONText.string(row.origin))}"
                }
                print("{\"settings\":[" + settings.joined(separator: ",") + "]}")
            } else {
                print(
                    TextTable.render(
                        header: ["KEY", "VALUE", "ORIGIN"],
                        rows: rows.map { [$0.key, $0.value ?? "(unset)", $0.origin] }))
            }
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print one setting's effective value (empty when unset).",
            discussion: """
                EXAMPLES:
                  kg config get backup_dir
                  kg config get api_url
                """)
        @Argument(help: "api_url, backup_dir, cacert, backup_recipients or identity_file.") var key: String

        func validate() throws {
            guard CLIConfig.settableKeys.contains(key) else {
                throw ValidationError("unknown key \(key); keys: \(CLIConfig.settableKeys.joined(separator: ", "))")
            }
        }

        func run() throws {
            let setting = ConfigCommand.effective(try CLIConfig.load()).first { $0.key == key }
            print(setting?.value ?? "")
        }
    }

    struct Set: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change one setting.",
            discussion: """
                Paths (backup_dir, cacert, identity_file) are stored absolute: a relative one is taken from the current \
                folder. backup_recipients: age1… recipients (space-separated) every backup is encrypted to; \
                identity_file: the age identity file that reads them (keep it off the backing-up machine for write-only backups).

                EXAMPLES:
                  kg config set api_url https://kg.example.com
                  kg config set backup_dir ~/kg-backups
                  kg config set cacert ./company-ca.pem
                """)
        @Argument(help: "api_url, backup_dir, cacert, backup_recipients or identity_file.") var key: String
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
            let isPath = CLIConfig.pathKeys.contains(key)
            config.values[key] = isPath ? URL(fileURLWithPath: (value as NSString).expandingTildeInPath).standardizedFileURL.path : value
            try config.save()
            print("\(key) = \(config.values[key]!)")
        }
    }
}
