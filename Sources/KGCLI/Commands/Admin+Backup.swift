import ArgumentParser
import Foundation
import KGClient
import KGFormat

extension Admin {
    /// `kg admin backup --type full|ontology [--ontology NAME] [--output PATH] [--compress gzip|zstd]`.
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stream a backup of the graph into backup_dir (or --output).",
            discussion: """
                The file arrives as the worker writes it, is checked for integrity, and only then \
                appears under its final name; against a gateway without a resume window, an interrupted backup \
                leaves nothing behind (Ctrl-C removes the partial file, cancels the job and exits 130). \
                Prints the saved path on standard output. The file gets FILE.sha256 beside it (`sha256sum -c` \
                checks it). --compress gzip or zstd: the worker compresses as it writes, so the bytes on the wire \
                are compressed too (.json.gz, .json.zst). --recipient age1… (repeatable), --recipients-file or \
                config backup_recipients encrypt the file here, as it streams in, in the age format (X25519), and \
                save it as NAME.age (after .gz/.zst); --passphrase / --passphrase-file use a passphrase (scrypt). \
                The `age` tool decrypts it; `kg admin verify --identity FILE` checks it. With only a recipient on \
                this machine, it cannot read its own backups: keep the identity elsewhere.

                When the gateway keeps backups for resumed downloads (backup_resume_window_s), a cut connection is \
                continued from the byte where it stopped, up to --retries times (default 5) with back-off. Interrupted \
                for good (retries spent, Ctrl-C, the machine asleep), the file stays as NAME.partial with \
                NAME.partial.resume (the job, the server, the file's ETag; never a token) and the job goes on; \
                `kg admin backup --resume` continues the newest one in backup_dir (or the one --output names) and ends \
                with the same integrity check and .sha256 over the whole file. An encrypted download keeps its header \
                and whole 64 KiB chunks only, and its file key in NAME.partial.resume (mode 0600) until it completes, \
                is abandoned (a file changed on the server, a tampered partial file) or its window passes (removed by \
                the next `kg admin backup`); --resume needs no key option.

                EXAMPLES:
                  kg admin backup --type full
                  kg admin backup --type ontology --ontology "Philosophy of Mind" --compress gzip
                  kg admin backup --type full --compress zstd
                  kg admin backup --type full --compress zstd --recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
                  kg admin backup --type full --passphrase-file /etc/kg/backup-passphrase
                  kg admin backup --type full --output ~/safe/graph.json --force
                  kg admin backup --resume
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        @Option(name: .long, help: "full, or ontology (with --ontology).")
        var type: BackupType = .full

        @Option(name: .long, help: "The ontology to back up (with --type ontology).")
        var ontology: String?

        @Option(name: .customLong("output"), help: "Save to this file, or into this directory, instead of backup_dir.")
        var outputPath: String?

        @Flag(name: .long, help: "Replace the file --output names if it exists (only once the new backup is whole and checked).")
        var force = false

        @Option(name: .long, help: "gzip, zstd or none.")
        var compress: String = "none"

        @OptionGroup var encryption: EncryptionOptions

        @Flag(name: .long, help: "Continue an interrupted backup: the newest NAME.partial in backup_dir, or the one --output names.")
        var resume = false

        @Option(name: .long, help: "Continue a cut transfer this many times, with back-off, before giving up (default 5).")
        var retries = 5

        func validate() throws {
            if type == .ontology && (ontology ?? "").isEmpty {
                throw ValidationError("--type ontology needs --ontology NAME")
            }
            if type == .full && ontology != nil {
                throw ValidationError("--ontology goes with --type ontology")
            }
            guard BackupCompression(rawValue: compress) != nil else {
                throw ValidationError("--compress must be gzip, zstd or none")
            }
            guard retries >= 0 else { throw ValidationError("--retries must be 0 or more") }
            if resume && (ontology != nil || compress != "none" || force || encryption.given) {
                throw ValidationError(
                    "--resume continues the interrupted backup as it was started: give no --ontology, --compress, "
                        + "--force or encryption option with it")
            }
        }

        func run() throws {
            let config = try global.config()
            // An encrypted partial file nothing can continue any more must not keep its key on disk.
            var folders = [config.backupDir]
            if let outputPath {
                let expanded = (outputPath as NSString).expandingTildeInPath
                var isDir: ObjCBool = false
                let isFolder = FileManager.default.fileExists(atPath: expanded, isDirectory: &isDir) && isDir.boolValue
                folders.append(isFolder ? expanded : (expanded as NSString).deletingLastPathComponent)
            }
            for folder in Set(folders.map { $0.isEmpty ? "." : $0 }) {
                for removed in ResumeSidecar.sweepExpiredKeys(in: folder) {
                    Terminal.error("removed \(removed) and its kept file key: its resume window has passed")
                }
            }
            var request = ["backup_type": type.rawValue, "compression": compress]
            if let ontology { request["ontology_name"] = ontology }
            let partial: String? = try resume ? ResumeSidecar.find(output: outputPath, backupDir: config.backupDir) : nil
            let destination: OutputTarget =
                try resume
                ? .directory(config.backupDir)
                : OutputTarget.resolve(outputPath, default: config.backupDir, force: force)
            var download = BackupDownload(
                client: try global.client(config), eventsClient: try global.client(config),
                controlClient: try global.client(config), request: request, destination: destination)
            download.encryptor = resume ? nil : try encryption.encryptor(config)
            download.retries = retries
            download.server = global.serverURL(config)
            download.resumePartial = partial
            let outcome = try download.run()
            if output.json {
                var object: [String: Any] = ["path": outcome.path, "bytes": outcome.bytes, "seconds": outcome.seconds]
                object["job_id"] = outcome.jobID ?? NSNull()
                object["resumed_from"] = outcome.resumedFrom
                object["statistics"] = outcome.report.counts
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                let counts = outcome.report.counts
                let summary = ["concepts", "sources", "instances", "relationships", "vocabulary"]
                    .map { "\(Terminal.grouped(counts[$0] ?? 0)) \($0)" }.joined(separator: ", ")
                let resumed = outcome.resumes > 0 ? ", \(outcome.resumes) resumed range\(outcome.resumes == 1 ? "" : "s")" : ""
                Terminal.error(
                    "backup complete\(resumed): \(Terminal.bytes(outcome.bytes)) in \(String(format: "%.1f", outcome.seconds)) s (\(summary))")
                print(outcome.path)
            }
        }
    }
}

extension BackupType: ExpressibleByArgument {}
