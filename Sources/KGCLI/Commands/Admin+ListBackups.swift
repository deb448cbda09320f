import ArgumentParser
import Foundation

extension Admin {
    /// `kg admin list-backups`: the local files in backup_dir, newest first.
    struct ListBackups: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the backups in backup_dir, newest first.")
        @OptionGroup var output: OutputOptions

        func run() throws {
            let config = try CLIConfig.load()
            let files = LocalBackups.list(in: config.backupDir)
            if output.json {
                let formatter = ISO8601DateFormatter()
                let rows: [[String: Any]] = files.map {
                    ["name": $0.name, "path": $0.path, "size": $0.size, "modified": formatter.string(from: $0.modified)]
                }
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !files.isEmpty else {
                Terminal.error("no backups in \(config.backupDir); take one with `kg admin backup --type full`")
                return
            }
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
            let width = files.map(\.name.count).max() ?? 0
            for file in files {
                print("\(file.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(Terminal.bytes(file.size).leftPadded(9))  \(formatter.string(from: file.modified))")
            }
            Terminal.error("\(files.count) backup(s) in \(config.backupDir)")
        }
    }
}

/// The backup files in a directory (`*.json`, `*.json.gz`; not partial or hidden files).
enum LocalBackups {
    struct File {
        let name: String
        let path: String
        let size: Int64
        let modified: Date
    }

    static func list(in directory: String) -> [File] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var files: [File] = []
        for name in names where !name.hasPrefix(".") && (name.hasSuffix(".json") || name.hasSuffix(".json.gz")) {
            let path = directory + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            files.append(File(name: name, path: path, size: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
                              modified: attributes[.modificationDate] as? Date ?? .distantPast))
        }
        return files.sorted { $0.modified != $1.modified ? $0.modified > $1.modified : $0.name > $1.name }
    }

    /// A path as given, or a name inside backup_dir.
    static func resolve(_ argument: String, backupDir: String) -> String {
        let expanded = (argument as NSString).expandingTildeInPath
        if argument.contains("/") || FileManager.default.fileExists(atPath: expanded) { return expanded }
        return backupDir + "/" + argument
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
