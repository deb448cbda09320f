import ArgumentParser
import Foundation
import KGAge

/// `kg admin backup`'s encryption: to age recipients (`--recipient`, repeatable;
/// `--recipients-file`; config `backup_recipients`) or to a passphrase
/// (`--passphrase` prompts, `--passphrase-file`). Nothing given and no config: no encryption.
struct EncryptionOptions: ParsableArguments {
    @Option(name: .long, help: "Encrypt the backup to this age recipient (age1…); repeatable. Else config backup_recipients.")
    var recipient: [String] = []

    @Option(name: .long, help: "Encrypt to the age recipients in this file (one a line, # comments).")
    var recipientsFile: String?

    @Flag(name: .long, help: "Encrypt with a passphrase (age's scrypt), asked on the terminal.")
    var passphrase = false

    @Option(name: .long, help: "Encrypt with the passphrase on this file's first line.")
    var passphraseFile: String?

    func validate() throws {
        let toRecipients = !recipient.isEmpty || recipientsFile != nil
        let toPassphrase = passphrase || passphraseFile != nil
        if toRecipients && toPassphrase {
            throw ValidationError("encrypt either to recipients (--recipient, --recipients-file) or with a passphrase, not both")
        }
        if passphrase && passphraseFile != nil { throw ValidationError("--passphrase asks for it; --passphrase-file reads it: give one") }
    }

    /// The encryptor for this backup, or nil for none. Bad keys stop here (exit 2), before anything is sent.
    /// Whether any encryption option was given on the command line.
    var given: Bool { !recipient.isEmpty || recipientsFile != nil || passphrase || passphraseFile != nil }

    func encryptor(_ config: CLIConfig) throws -> AgeEncryptor? {
        do {
            if let passphraseFile { return try AgeEncryptor(passphrase: try Passphrase.read(file: passphraseFile)) }
            if passphrase { return try AgeEncryptor(passphrase: try Passphrase.prompt(confirm: true)) }
            var recipients = try recipient.map { try AgeRecipient(parsing: $0) }
            if let recipientsFile {
                let path = (recipientsFile as NSString).expandingTildeInPath
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw CLIError.usage("cannot read the recipients file \(path)")
                }
                recipients += try AgeRecipient.parseFile(text, name: path)
            }
            if recipients.isEmpty, let configured = config.values["backup_recipients"], !configured.isEmpty {
                recipients = try configured.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" })
                    .map { try AgeRecipient(parsing: String($0)) }
            }
            return recipients.isEmpty ? nil : try AgeEncryptor(recipients: recipients)
        } catch let error as AgeError {
            throw CLIError.usage(error.message + "; nothing was sent")
        }
    }
}

/// How a reader opens `.age` files: `--identity FILE` (repeatable; else config
/// `identity_file`), or a passphrase (`--passphrase`, `--passphrase-file`).
struct DecryptionOptions: ParsableArguments {
    @Option(name: .long, help: "An age identity file that opens encrypted (.age) backups; repeatable. Else config identity_file.")
    var identity: [String] = []

    @Flag(name: .long, help: "Open a passphrase-encrypted (.age) backup with a passphrase asked on the terminal.")
    var passphrase = false

    @Option(name: .long, help: "Open a passphrase-encrypted (.age) backup with the passphrase on this file's first line.")
    var passphraseFile: String?

    /// The key for an age file; throws (exit 1) naming the options when none is given.
    func key(_ config: CLIConfig, for path: String) throws -> AgeDecryptor.Key {
        if let passphraseFile { return .passphrase(try Passphrase.read(file: passphraseFile)) }
        if passphrase { return .passphrase(try Passphrase.prompt(confirm: false)) }
        var files = identity
        if files.isEmpty, let configured = config.values["identity_file"], !configured.isEmpty { files = [configured] }
        guard !files.isEmpty else {
            throw CLIError(
                "\(path) is encrypted (age); give the identity that opens it with --identity FILE "
                    + "(or `kg config set identity_file FILE`), or --passphrase / --passphrase-file for a passphrase")
        }
        var identities: [AgeIdentity] = []
        for file in files {
            let expanded = (file as NSString).expandingTildeInPath
            guard let text = try? String(contentsOfFile: expanded, encoding: .utf8) else {
                throw CLIError("cannot read the identity file \(expanded)")
            }
            do {
                identities += try AgeIdentity.parseFile(text, name: expanded)
            } catch let error as AgeError {
                throw CLIError(error.message)
            }
        }
        return .identities(identities)
    }

    /// The key from the options or the config only if one is given (for listings that also work without).
    func optionalKey(_ config: CLIConfig) -> AgeDecryptor.Key? {
        guard passphraseFile != nil || passphrase || !identity.isEmpty || config.values["identity_file"] != nil else { return nil }
        return try? key(config, for: "")
    }
}

enum Passphrase {
    static func read(file: String) throws -> String {
        let path = (file as NSString).expandingTildeInPath
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError.usage("cannot read the passphrase file \(path)")
        }
        let line = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard !line.isEmpty else { throw CLIError.usage("the passphrase file \(path) is empty") }
        return line
    }

    /// Asks on the terminal, without echo (twice to encrypt).
    static func prompt(confirm: Bool) throws -> String {
        guard Terminal.stdinIsTTY, let first = getpass("passphrase: ").map({ String(cString: $0) }), !first.isEmpty else {
            throw CLIError.usage("--passphrase asks on a terminal; without one, give --passphrase-file FILE")
        }
        if confirm {
            guard let again = getpass("passphrase again: ").map({ String(cString: $0) }), again == first else {
                throw CLIError.usage("the two passphrases differ; nothing was sent")
            }
        }
        return first
    }
}
