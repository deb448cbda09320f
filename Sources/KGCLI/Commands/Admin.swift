import ArgumentParser

/// `kg admin …`: backups and restores (admin role).
struct Admin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Back up, verify, list, forget and restore backups; checkpoints, prune and stitch; revoke tokens, read the audit trail (admin role, except verify, list-backups and forget).",
        subcommands: [
            Backup.self, ListBackups.self, Verify.self, Forget.self, Restore.self, Checkpoints.self, Prune.self, Stitch.self,
            RevokeTokens.self, Audit.self,
        ])
}
