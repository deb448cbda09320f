import ArgumentParser
import Foundation
import KGClient
import KGFormat

extension Admin {
    /// `kg admin restore [FILE] [--mode replace|merge] [--dry-run] [--yes] [--external-deps fail|prune]
    /// [--checkpoint|--no-checkpoint] [--keep-checkpoint] [--no-wait] [--json]`.
    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into the graph: check it locally, upload it, follow the restore.",
            discussion: """
                FILE is a path, or a name inside backup_dir; without it, kg lists the local backups \
                and asks which one. The file is checked locally (as `kg admin verify` does): before the \
                upload, or with --yes or --dry-run on the upload's own read, its last bytes held back until the \
                whole check has passed; the gateway never takes an invalid file. The restore runs as a job on the server, stage by stage, \
                and either applies fully or is rolled back. Unless --yes or --dry-run, kg shows what \
                will happen and asks you to type "restore". Prints the job id on standard output \
                (with --json: {"job_id", "status", "result"}). The upload is resumable: a cut connection is \
                retried from the byte the gateway holds (--retries); an upload that stopped (the CLI killed, \
                the machine asleep) continues with --resume within restore_upload_window_s (1 h by default).
                Exit codes: 0 restored, 1 refused, failed and rolled back, or cancelled, \
                2 usage, 3 server unreachable, 4 not authenticated or not permitted.

                EXAMPLES:
                  kg admin restore full_backup_20261128_101500.json
                  kg admin restore some.json --dry-run
                  kg admin restore full_backup_20261128_101500.json --mode replace --yes
                  kg admin restore onto.json --external-deps defer
                  kg admin restore full_backup_20261128_101500.json.zst.age --identity ~/keys/kg.txt
                  kg admin restore full_backup_20261128_101500.json --yes --resume
                """)

        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @OptionGroup var decryption: DecryptionOptions

        @Argument(help: "A backup file (plain, gzip or zstd): a path, or a name inside backup_dir.")
        var file: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "replace (the graph becomes exactly the backup) or merge (insert or update by id, keep the rest).",
                discussion: "Default: replace for a full backup, merge for an ontology backup."))
        var mode: RestoreMode?

        @Flag(name: .long, help: "Run every check, on the server too, and report what would change, without changing it.")
        var dryRun = false

        @Flag(name: [.short, .long], help: "Do not ask for confirmation (needed when standard input is not a terminal).")
        var yes = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "fail, prune, defer or stitch: what to do with records that name concepts neither the backup nor the graph holds.",
                discussion:
                    "fail refuses the restore (rolled back); prune drops those records and reports how many; defer keeps them aside and connects them when those concepts arrive (a later restore); stitch is defer, and then `kg admin stitch --backup FILE` connects them by label or embedding. Default: fail for a full backup, prune for an ontology backup."
            ))
        var externalDeps: ExternalDepsStrategy?

        @Flag(
            inversion: .prefixedNo,
            help: ArgumentHelp(
                "Make a checkpoint (a full backup of the graph on the server) first, and roll back to it on any failure.",
                discussion: "Default: on for a merge, off for a replace (which already sets the graph to your file) and a dry run."))
        var checkpoint: Bool?

        @Flag(name: .long, help: "Keep the checkpoint after a success too (`kg admin checkpoints list` shows it).")
        var keepCheckpoint = false

        @Flag(name: .long, help: "Fail at once (exit 1) when another risky operation is running, instead of waiting for it.")
        var noWait = false

        @Flag(
            name: .long,
            help: ArgumentHelp(
                "Continue an interrupted upload of FILE to this server from the byte the gateway holds.",
                discussion:
                    "kg keeps each unfinished upload (its id, the server and the file's digest, never a token) in restore-uploads.json beside its config; the gateway keeps the bytes for restore_upload_window_s (default 1 h) after the last one."
            ))
        var resume = false

        @Option(name: .long, help: "Times a cut connection is retried, from the byte the gateway holds, with back-off (default 5).")
        var retries = 5

        func validate() throws {
            if keepCheckpoint && checkpoint == false {
                throw ValidationError("--keep-checkpoint needs a checkpoint: leave out --no-checkpoint")
            }
            if retries < 0 { throw ValidationError("--retries must be 0 or more") }
            if resume && file == nil { throw ValidationError("--resume needs FILE: the file whose upload was interrupted") }
            if file == nil && !Terminal.stdinIsTTY {
                throw ValidationError(
                    "no FILE given, and standard input is not a terminal to choose one from: pass FILE (`kg admin list-backups` shows them)")
            }
            if !yes && !dryRun && !Terminal.stdinIsTTY {
                throw ValidationError(
                    "standard input is not a terminal, so kg cannot ask for confirmation: pass --yes to confirm in scripts (or --dry-run to only see what would change)"
                )
            }
        }

        func run() throws {
            let config = try global.config()
            let server = global.serverURL(config)
            let path = try chooseFile(backupDir: config.backupDir)
            let bytes = try fileSize(path, backupDir: config.backupDir)
            // The server and the credentials first: a minute of checking a large file
            // should not end in "unreachable" or "not authenticated".
            try ServerPreflight.requireAdmin(try global.client(config), for: "a restore")

            // An age file: checked decrypted in memory (a wrong key stops here, exit 1), then decrypted
            // again as it is sent; nothing decrypted touches the disk.
            var ageSource: ((Int64) throws -> UploadSource)?
            var plainBytes: Int64?
            // The check before the upload; nil when it rides along the upload (``UploadCheckAlong``).
            var checkedFirst: IntegrityReport?
            var along: UploadCheckAlong?
            // The file's SHA-256 (from the check's own read, when it comes first): the upload session's key.
            let sha256: String
            var backupType: String?
            if let header = checkAlongHeader(path) {
                guard let digest = CheckProgress.hash(path: path) else {
                    throw CLIError("cannot read \(path): \(String(cString: strerror(errno))); nothing was sent")
                }
                sha256 = digest
                backupType = header.type
                along = UploadCheckAlong(path: path, size: bytes)
            } else if AgeFileCheck.isAge(path) {
                let key = try decryption.key(config, for: path)
                let checked = try AgeFileCheck.check(path: path, key: key)
                if let damage = checked.damage { throw CLIError("\(path) is DAMAGED: \(damage). Nothing was sent.") }
                checkedFirst = checked.report
                sha256 = checked.sha256
                let size = checked.plainBytes
                ageSource = { offset in try AgeUpload.source(path: path, key: key, size: size, from: offset) }
                plainBytes = size
            } else {
                let (report, digest) = CheckProgress.checkAndHash(path: path)
                checkedFirst = report
                sha256 = digest
            }
            if let report = checkedFirst {
                guard report.valid else { throw refuse(report, path: path, sent: false) }
                for warning in report.warnings { Terminal.error(warning.description) }
                backupType = report.backupType
            }

            let mode = self.mode ?? RestoreMode.defaultFor(backupType: backupType)
            let externalDeps = self.externalDeps ?? ExternalDepsStrategy.defaultFor(backupType: backupType)
            if dryRun {
                Terminal.error("dry run (\(mode.rawValue)) against \(server): every check runs, nothing will be changed")
            } else if !yes, let report = checkedFirst {
                try confirm(path: path, bytes: bytes, report: report, mode: mode, server: server)
            }

            var upload = RestoreUpload(
                client: try global.client(config), path: path, bytes: bytes, compressed: Self.isCompressed(path),
                mode: mode, dryRun: dryRun, externalDeps: externalDeps,
                checkpoint: checkpoint, keepCheckpoint: keepCheckpoint, noWait: noWait)
            upload.source = ageSource ?? along.map { along in { offset in try along.source(from: offset) } }
            if along != nil { upload.label = "upload+check" }
            upload.uploadBytes = plainBytes
            upload.retries = retries
            upload.resume = resume
            upload.store = RestoreSessionStore(configPath: config.path)
            upload.server = server
            upload.fileDigest = sha256
            let accepted: RestoreAccepted
            do {
                accepted = try upload.run()
            } catch let refused as UploadCheckAlong.Refused {
                throw refuse(refused.report, path: path, sent: true)
            }
            let report = checkedFirst ?? along?.report
            if let report {
                if along != nil { for warning in report.warnings { Terminal.error(warning.description) } }
            } else {
                Terminal.error("warning: the local check did not see the whole file; the gateway's check and the worker's stand")
            }
            // The gateway and the worker run the same checks: each warning is shown once.
            var shown = Set((report?.warnings ?? []).map(\.message))
            for warning in accepted.integrityWarnings where shown.insert(warning).inserted {
                Terminal.error("warning (gateway): \(warning)")
            }
            if Terminal.stderrIsTTY {
                Terminal.error("restore job \(accepted.jobID) accepted; Ctrl-C stops following, not the restore")
            }

            var follow = RestoreFollow(client: try global.client(config), jobID: accepted.jobID)
            if let reason = noCheckpointReason(mode: mode) {
                follow.skipped = [RestoreStage.creatingCheckpoint.rawValue: reason]
            }
            let job = follow.run()
            try finish(job, shownWarnings: shown)
        }

        /// The file's metadata when the check can ride along the upload (``UploadCheckAlong``): nothing
        /// must be known before it starts (`--yes` or `--dry-run`: no confirmation to show findings in),
        /// the file is not encrypted, not a `--resume`, and its metadata (its type, for the defaults of
        /// `--mode` and `--external-deps`) comes before its data. Else nil: the check comes first.
        private func checkAlongHeader(_ path: String) -> BackupHeader? {
            guard yes || dryRun, !resume, !AgeFileCheck.isAge(path) else { return nil }
            guard let header = BackupHeader.peek(path: path), header.sawData else { return nil }
            return header
        }

        /// An invalid file, as the report says (`sent`: its check rode along the upload, which was stopped
        /// before the last byte and abandoned on the gateway).
        private func refuse(_ report: IntegrityReport, path: String, sent: Bool) -> CLIError {
            let message =
                sent
                ? "\(path) is not a valid backup; its upload was stopped before the last byte and removed from the gateway: nothing was changed."
                : "\(path) is not a valid backup; nothing was sent."
            if output.json { FollowedJobOutput.printRefusal(error: message, integrity: report.jsonText()) }
            Terminal.error(report.renderText())
            return CLIError(message)
        }

        /// Why this restore makes no checkpoint (the worker's rule, ``RestoreJobParams/makesCheckpoint``), or nil.
        private func noCheckpointReason(mode: RestoreMode) -> String? {
            if dryRun { return "a dry run changes nothing" }
            if checkpoint == false { return "--no-checkpoint" }
            if checkpoint == nil && mode == .replace {
                return "a replace needs none (--checkpoint makes one)"
            }
            return nil
        }

        /// FILE resolved, or the user's pick from the local backups.
        private func chooseFile(backupDir: String) throws -> String {
            if let file { return LocalBackups.resolve(file, backupDir: backupDir) }
            let files = LocalBackups.list(in: backupDir)
            guard !files.isEmpty else {
                throw CLIError.usage(
                    "no backups in \(backupDir) to choose from: pass FILE (a path to a backup), or take one with `kg admin backup --type full`")
            }
            Terminal.error(RestoreMessages.pickList(files, directory: backupDir))
            while true {
                FileHandle.standardError.write(Data(RestoreMessages.pickPrompt(count: files.count).utf8))
                switch RestoreMessages.pick(readLine(), count: files.count) {
                case .index(let i): return files[i].path
                case .stop: throw CLIError(RestoreMessages.aborted)
                case .invalid: Terminal.error("type a number from 1 to \(files.count), or just Enter to stop")
                }
            }
        }

        private func fileSize(_ path: String, backupDir: String) throws -> Int64 {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CLIError(
                    "no such file: \(path). FILE is a path, or a name inside backup_dir (\(backupDir)); "
                        + "`kg admin list-backups` shows them.")
            }
            guard !isDirectory.boolValue else { throw CLIError("\(path) is a directory, not a backup file") }
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            return (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        }

        private func confirm(path: String, bytes: Int64, report: IntegrityReport, mode: RestoreMode, server: String) throws {
            Terminal.error(
                RestoreMessages.confirmation(
                    path: path, bytes: bytes, report: report, mode: mode,
                    externalDeps: externalDeps ?? ExternalDepsStrategy.defaultFor(backupType: report.backupType), server: server))
            FileHandle.standardError.write(Data(RestoreMessages.confirmationPrompt.utf8))
            guard RestoreMessages.confirms(readLine()) else { throw CLIError(RestoreMessages.aborted) }
        }

        /// The summary on standard error, the job id (or JSON) on standard output, the exit code.
        private func finish(_ job: Job, shownWarnings: Set<String>) throws {
            let result = job.result.flatMap(Self.restoreResult)
            if job.status == .completed {
                Terminal.error(
                    result.map { RestoreMessages.summary($0, shownWarnings: shownWarnings) }
                        ?? "restore completed (`kg job status \(job.jobID)` shows the worker's report)")
            }
            try FollowedJobOutput.print(job, json: output.json)
            switch job.status {
            case .completed: return
            case .cancelled: throw CLIError(RestoreMessages.cancelled)
            default: throw CLIError(RestoreMessages.failed(error: job.error, dryRun: result?.dryRun ?? dryRun))
            }
        }

        /// The job's `result` as a ``RestoreJobResult`` (a JSON round trip).
        static func restoreResult(_ result: JSONObjectText) -> RestoreJobResult? {
            guard let data = try? JSONEncoder().encode(result) else { return nil }
            return try? JSONDecoder().decode(RestoreJobResult.self, from: data)
        }

        static func jsonObject(_ result: JSONObjectText) -> Any? {
            guard let data = try? JSONEncoder().encode(result) else { return nil }
            return try? JSONSerialization.jsonObject(with: data)
        }

        /// Whether the file is compressed (gzip or zstd), by its first bytes (never by its name).
        static func isCompressed(_ path: String) -> Bool {
            ContentDecoder.encoding(ofFileAt: path) != .identity
        }
    }
}

extension RestoreMode: ExpressibleByArgument {}
extension ExternalDepsStrategy: ExpressibleByArgument {}
