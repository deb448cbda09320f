import ArgumentParser

/// `kg admin …`: backups and restores (admin role).
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up, verify, list and restore backups (backup and restore need the admin role).",
        subcommands: [Backup.self, ListBackups.self, Verify.self, Restore.self, Checkpoints.self, Prune.self, Stitch.self])
}
