import ArgumentParser
import Foundation
import KGAge
import KGFormat

extension Admin {
    /// `kg admin list-backups`: the backups in backup_dir, newest first, each
    /// described by its own header (read from its first bytes).
    struct ListBackups: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the backups in backup_dir, newest first, with type, ontology, schema, whether each ends whole and has a digest.",
            discussion: """
                Each file is described by its own header (its first bytes), not by its name; files that are not \
                backups (empty, not JSON, no backup header) are named on standard error and left out. WHOLE is a \
                cheap look at the end of a plain file (`yes`, or `no` when it was cut short); gzip and zstd files show `-` \
                (only reading all of it can tell: `kg admin verify FILE`). SHA256 is `yes` when FILE.sha256 is \
                beside the file (every backup kg saves has one); --check reads every file that has one and \
                compares: `ok`, or `BAD` (bit rot, truncation, tampering: exit 1). --json prints \
                [{"name", "path", "size", "modified", "type", "ontology", "schema_version", "timestamp", "whole", \
                "digest"}, …] (null where a value is absent; digest is "absent" or "present", or with --check \
                "ok", "mismatch" or "unreadable").

                EXAMPLES:
                  kg admin list-backups
                  kg admin list-backups --check
                  kg admin list-backups --json | jq -r '.[0].path'
                """)
        @OptionGroup var output: OutputOptions
        @OptionGroup var decryption: DecryptionOptions
        @Flag(help: "Read every file that has a .sha256 beside it and compare (exit 1 on any mismatch).")
        var check = false

        func run() throws {
            let config = try CLIConfig.load()
            let listing = LocalBackups.scan(config.backupDir, key: decryption.optionalKey(config))
            let files = listing.backups
            var digests: [String: DigestFile.Status] = [:]
            if check {
                for file in files where file.hasDigest {
                    digests[file.path] = DigestCheck.status(path: file.path)
                }
            }
            func digestWord(_ file: LocalBackups.File) -> String {
                digests[file.path]?.word ?? (file.hasDigest ? "present" : "absent")
            }
            if output.json {
                let formatter = ISO8601DateFormatter()
                let rows: [[String: Any]] = files.map {
                    [
                        "name": $0.name, "path": $0.path, "size": $0.size, "modified": formatter.string(from: $0.modified),
                        "type": $0.header.type ?? NSNull(), "ontology": $0.header.ontology ?? NSNull(),
                        "schema_version": $0.header.schemaVersion ?? NSNull(), "timestamp": $0.header.timestamp ?? NSNull(),
                        "whole": $0.whole ?? NSNull(), "digest": digestWord($0),
                    ]
                }
                let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else if files.isEmpty {
                Terminal.error("no backups in \(config.backupDir); take one with `kg admin backup --type full`")
            } else {
                print(LocalBackups.table(files, digests: check ? digests : nil))
                Terminal.error("\(files.count) backup(s) in \(config.backupDir)")
            }
            for other in listing.others {
                Terminal.error("not a backup, left out: \(other.name) (\(other.reason))")
            }
            let damaged = files.filter { digests[$0.path]?.isDamage == true }
            for file in damaged {
                var why = "its bytes do not match \(file.name)\(DigestFile.suffix) (bit rot, truncation or tampering)"
                if case .unreadable(let reason)? = digests[file.path] { why = reason }
                Terminal.error("DAMAGED: \(file.name): \(why)")
            }
            if check {
                let checked = digests.count
                if damaged.isEmpty {
                    Terminal.error(
                        "digests: \(checked) checked, all match" + (files.count > checked ? "; \(files.count - checked) file(s) have none" : ""))
                } else {
                    Terminal.error(
                        "digests: \(damaged.count) of \(checked) do not match; do not restore those: use another copy "
                            + "(`kg admin verify FILE` says more)")
                    throw ExitCode(1)
                }
            }
        }
    }
}

/// The backup files in a directory: `*.json`, `*.json.gz` and `*.json.zst` (not
/// partial or hidden files) whose first bytes hold a backup header (compression
/// recognised by content).
enum LocalBackups {
    struct File {
        let name: String
        let path: String
        let size: Int64
        let modified: Date
        let header: BackupHeader
        /// A plain file that ends as JSON does (nil for gzip and zstd: unknown without reading it all).
        let whole: Bool?
        /// Whether `<name>.sha256` is beside it.
        var hasDigest: Bool = false
    }

    struct Listing {
        var backups: [File] = []
        var others: [(name: String, reason: String)] = []
    }

    /// The names a backup file may end with.
    static let fileSuffixes = [".json", ".json.gz", ".json.zst", ".json.age", ".json.gz.age", ".json.zst.age"]

    static func list(in directory: String) -> [File] { scan(directory).backups }

    /// `key` opens age-encrypted files' headers; without it they are listed with an unknown header.
    static func scan(_ directory: String, key: AgeDecryptor.Key? = nil) -> Listing {
        var listing = Listing()
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return listing }
        for name in names.sorted() where !name.hasPrefix(".") && fileSuffixes.contains(where: { name.hasSuffix($0) }) {
            let path = directory + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeRegular
            else { continue }
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            guard size > 0 else {
                listing.others.append((name, "empty"))
                continue
            }
            let encrypted = AgeFileCheck.isAge(path)
            let peeked = encrypted ? key.flatMap { AgeFileCheck.peekHeader(path: path, key: $0) } : BackupHeader.peek(path: path)
            guard let header = peeked ?? (encrypted ? BackupHeader.unknown : nil) else {
                listing.others.append((name, "no backup header in its first bytes"))
                continue
            }
            listing.backups.append(
                File(
                    name: name, path: path, size: size,
                    modified: attributes[.modificationDate] as? Date ?? .distantPast,
                    header: header, whole: encrypted ? nil : BackupHeader.plainFileEndsWhole(path: path),
                    hasDigest: FileManager.default.fileExists(atPath: DigestFile.path(for: path))))
        }
        listing.backups.sort { $0.modified != $1.modified ? $0.modified > $1.modified : $0.name > $1.name }
        return listing
    }

    /// The listing's table: date, type, ontology, schema, size, whole, digest, name.
    /// With `digests` (after `--check`), the digest column says `ok` or `BAD`.
    static func table(_ files: [File], numbered: Bool = false, digests: [String: DigestFile.Status]? = nil) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
        formatter.timeZone = TimeZone(identifier: "UTC")
        let rows = files.enumerated().map { index, file -> [String] in
            let type =
                file.header.type.map { $0.replacingOccurrences(of: "_backup", with: "") }
                ?? (file.name.hasSuffix(".age") ? "age" : "?")
            let row = [
                formatter.string(from: file.modified), type, file.header.ontology ?? "-",
                file.header.schemaVersion.map(String.init) ?? "-", Terminal.bytes(file.size),
                file.whole.map { $0 ? "yes" : "no" } ?? "-", digestCell(file, digests), file.name,
            ]
            return numbered ? [String(index + 1)] + row : row
        }
        let header = ["SAVED (UTC)", "TYPE", "ONTOLOGY", "SCHEMA", "SIZE", "WHOLE", "SHA256", "FILE"]
        return TextTable.render(header: numbered ? ["#"] + header : header, rows: rows)
    }

    private static func digestCell(_ file: File, _ digests: [String: DigestFile.Status]?) -> String {
        guard file.hasDigest else { return "-" }
        guard let status = digests?[file.path] else { return "yes" }
        return status.isDamage ? "BAD" : "ok"
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
