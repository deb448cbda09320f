import Crypto
import CryptoExtras
import Foundation

/// The file key's wrapping in a stanza: X25519 recipients and scrypt passphrases
/// (age-encryption.org/v1), with swift-crypto's primitives.
enum AgeKeyWrap {
    static let x25519Label = Array("age-encryption.org/v1/X25519".utf8)
    static let scryptLabel = Array("age-encryption.org/v1/scrypt".utf8)
    /// age's own default for new files (about a second on a laptop, 256 MiB).
    static let defaultWorkFactor = 18
    /// The most a file may ask for when decrypting (age's limit too).
    static let maxWorkFactor = 22

    static func seal(_ fileKey: SymmetricKey, with key: SymmetricKey) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(
            fileKey.withUnsafeBytes { Array($0) }, using: key, nonce: ChaChaPoly.Nonce(data: [UInt8](repeating: 0, count: 12)))
        return Array(box.ciphertext) + Array(box.tag)
    }

    static func open(_ body: [UInt8], with key: SymmetricKey) -> SymmetricKey? {
        guard body.count == 32, let nonce = try? ChaChaPoly.Nonce(data: [UInt8](repeating: 0, count: 12)),
            let box = try? ChaChaPoly.SealedBox(nonce: nonce, ciphertext: body[0..<16], tag: body[16..<32]),
            let plain = try? ChaChaPoly.open(box, using: key)
        else { return nil }
        return SymmetricKey(data: plain)
    }

    // MARK: X25519

    static func wrap(_ fileKey: SymmetricKey, to recipient: AgeRecipient) throws -> AgeStanza {
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let share = Array(ephemeral.publicKey.rawRepresentation)
        let shared = try ephemeral.sharedSecretFromKeyAgreement(with: recipient.publicKey)
        let key = wrapKey(shared: shared, share: share, recipient: Array(recipient.publicKey.rawRepresentation))
        return AgeStanza(type: "X25519", arguments: [AgeBase64.encode(share)], body: try seal(fileKey, with: key))
    }

    static func wrapKey(shared: SharedSecret, share: [UInt8], recipient: [UInt8]) -> SymmetricKey {
        shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: share + recipient, sharedInfo: x25519Label, outputByteCount: 32)
    }

    /// The file key if `stanza` is an X25519 stanza for `identity`; throws on a malformed stanza.
    static func unwrap(_ stanza: AgeStanza, identity: AgeIdentity) throws -> SymmetricKey? {
        guard stanza.arguments.count == 1, let share = AgeBase64.decode(stanza.arguments[0]), share.count == 32,
            stanza.body.count == 32
        else {
            throw AgeError(.malformed, "not a valid age file: an X25519 stanza has a wrong share or body")
        }
        guard let publicShare = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: share) else { return nil }
        let shared = try identity.privateKey.sharedSecretFromKeyAgreement(with: publicShare)
        guard shared.withUnsafeBytes({ $0.contains { $0 != 0 } }) else {
            throw AgeError(.malformed, "not a valid age file: an X25519 stanza has a low-order share")
        }
        let key = wrapKey(shared: shared, share: share, recipient: Array(identity.privateKey.publicKey.rawRepresentation))
        return open(stanza.body, with: key)
    }

    // MARK: scrypt

    static func scryptKey(passphrase: String, salt: [UInt8], workFactor: Int) throws -> SymmetricKey {
        let n = 1 << workFactor
        return try KDF.Scrypt.deriveKey(
            from: Array(passphrase.utf8), salt: scryptLabel + salt, outputByteCount: 32,
            rounds: n, blockSize: 8, parallelism: 1, maxMemory: 128 * 8 * n + (1 << 20))
    }

    static func wrap(_ fileKey: SymmetricKey, passphrase: String, workFactor: Int = defaultWorkFactor) throws -> AgeStanza {
        var salt = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in salt.indices { salt[i] = generator.next() }
        let key = try scryptKey(passphrase: passphrase, salt: salt, workFactor: workFactor)
        return AgeStanza(type: "scrypt", arguments: [AgeBase64.encode(salt), String(workFactor)], body: try seal(fileKey, with: key))
    }

    static func unwrap(_ stanza: AgeStanza, passphrase: String) throws -> SymmetricKey? {
        guard stanza.arguments.count == 2, let salt = AgeBase64.decode(stanza.arguments[0]), salt.count == 16,
            stanza.body.count == 32
        else {
            throw AgeError(.malformed, "not a valid age file: a scrypt stanza has a wrong salt or body")
        }
        let factorText = stanza.arguments[1]
        guard let factor = Int(factorText), String(factor) == factorText, factor > 0 else {
            throw AgeError(.malformed, "not a valid age file: a scrypt stanza's work factor is not a decimal number")
        }
        guard factor <= maxWorkFactor else {
            throw AgeError(.malformed, "the file's scrypt work factor is \(factor), more than \(maxWorkFactor): refused (it could take hours)")
        }
        return open(stanza.body, with: try scryptKey(passphrase: passphrase, salt: salt, workFactor: factor))
    }
}
