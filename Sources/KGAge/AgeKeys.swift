import Crypto
import Foundation

/// An age X25519 recipient: `age1…` (Bech32 of the 32-byte public key).
public struct AgeRecipient: Sendable, Equatable {
    public let publicKey: Curve25519.KeyAgreement.PublicKey

    public init(_ publicKey: Curve25519.KeyAgreement.PublicKey) {
        self.publicKey = publicKey
    }

    /// Parses `age1…`; throws ``AgeError`` (`.badKey`) naming what is wrong.
    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let (hrp, data) = Bech32.decode(trimmed), hrp == "age" else {
            throw AgeError(.badKey, "\(Self.shown(trimmed)) is not an age recipient (age1… from `age-keygen`, or `age-keygen -y IDENTITY_FILE`)")
        }
        guard data.count == 32, let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: data) else {
            throw AgeError(.badKey, "\(Self.shown(trimmed)) is not a 32-byte X25519 age recipient")
        }
        publicKey = key
    }

    public var text: String { Bech32.encode(hrp: "age", data: Array(publicKey.rawRepresentation)) }

    public static func == (a: AgeRecipient, b: AgeRecipient) -> Bool { a.publicKey.rawRepresentation == b.publicKey.rawRepresentation }

    static func shown(_ text: String) -> String { text.count > 20 ? String(text.prefix(12)) + "…" : text }

    /// The recipients of a recipients file (one per line; `#` comments and blank lines ignored).
    public static func parseFile(_ text: String, name: String) throws -> [AgeRecipient] {
        var recipients: [AgeRecipient] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces.union(.init(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                recipients.append(try AgeRecipient(parsing: line))
            } catch let error as AgeError {
                throw AgeError(.badKey, "\(name):\(number + 1): \(error.message)")
            }
        }
        guard !recipients.isEmpty else { throw AgeError(.badKey, "\(name) holds no age1… recipient") }
        return recipients
    }
}

/// An age X25519 identity: `AGE-SECRET-KEY-1…` (Bech32 of the 32-byte private key).
public struct AgeIdentity: Sendable {
    public let privateKey: Curve25519.KeyAgreement.PrivateKey

    public init(_ privateKey: Curve25519.KeyAgreement.PrivateKey = .init()) {
        self.privateKey = privateKey
    }

    public init(parsing text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard let (hrp, data) = Bech32.decode(trimmed), hrp == "age-secret-key-", trimmed == trimmed.uppercased() else {
            throw AgeError(.badKey, "not an age identity (AGE-SECRET-KEY-1… from `age-keygen`)")
        }
        guard data.count == 32, let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: data) else {
            throw AgeError(.badKey, "not a 32-byte X25519 age identity")
        }
        privateKey = key
    }

    public var text: String { Bech32.encode(hrp: "age-secret-key-", data: Array(privateKey.rawRepresentation)).uppercased() }
    public var recipient: AgeRecipient { AgeRecipient(privateKey.publicKey) }

    /// The identities of an identity file as `age-keygen` writes it (`#` comments, one key a line).
    public static func parseFile(_ text: String, name: String) throws -> [AgeIdentity] {
        var identities: [AgeIdentity] = []
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces.union(.init(charactersIn: "\r")))
            if line.isEmpty || line.hasPrefix("#") { continue }
            do {
                identities.append(try AgeIdentity(parsing: line))
            } catch let error as AgeError {
                throw AgeError(.badKey, "\(name):\(number + 1): \(error.message)")
            }
        }
        guard !identities.isEmpty else { throw AgeError(.badKey, "\(name) holds no AGE-SECRET-KEY-1… identity") }
        return identities
    }
}
