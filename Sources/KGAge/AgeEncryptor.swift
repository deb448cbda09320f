import Crypto
import Foundation

/// Encrypts a stream into an age file (age-encryption.org/v1) as it arrives:
/// the header first, then STREAM chunks of 64 KiB (ChaCha20-Poly1305, the last
/// one flagged). Memory: two chunks at most.
///
/// ```swift
/// let age = try AgeEncryptor(recipients: [try AgeRecipient(parsing: "age1…")])
/// age.start { file.write($0) }
/// age.encrypt(chunk) { file.write($0) }
/// age.finish { file.write($0) }
/// ```
public final class AgeEncryptor {
    static let chunkSize = 64 * 1024

    private let header: [UInt8]
    private let fileKey: SymmetricKey
    private let payloadKey: SymmetricKey
    private let nonce: [UInt8]
    private var buffer: [UInt8] = []
    private var counter: UInt64 = 0
    private var started = false
    private var finished = false

    /// To X25519 recipients (one stanza each).
    public convenience init(recipients: [AgeRecipient]) throws {
        precondition(!recipients.isEmpty, "an age file needs a recipient")
        let fileKey = SymmetricKey(size: .init(bitCount: 128))
        try self.init(fileKey: fileKey, stanzas: recipients.map { try AgeKeyWrap.wrap(fileKey, to: $0) })
    }

    /// To a passphrase (one scrypt stanza, the only one).
    public convenience init(passphrase: String, workFactor: Int = 18) throws {
        let fileKey = SymmetricKey(size: .init(bitCount: 128))
        try self.init(fileKey: fileKey, stanzas: [AgeKeyWrap.wrap(fileKey, passphrase: passphrase, workFactor: workFactor)])
    }

    init(fileKey: SymmetricKey, stanzas: [AgeStanza]) throws {
        var header = AgeHeader(stanzas: stanzas)
        header.mac = header.computeMAC(fileKey: fileKey)
        self.header = header.encoded
        self.fileKey = fileKey
        var nonce = [UInt8](repeating: 0, count: 16)
        var generator = SystemRandomNumberGenerator()
        for i in nonce.indices { nonce[i] = generator.next() }
        self.nonce = nonce
        payloadKey = AgeStream.payloadKey(fileKey: fileKey, nonce: nonce)
        buffer.reserveCapacity(2 * Self.chunkSize)
    }

    /// Continues a file whose header, nonce and first `chunks` whole chunks are written
    /// (``AgeDecryptor/continuation(into:)`` checks them and makes this).
    init(continuing fileKey: SymmetricKey, payloadKey: SymmetricKey, headerLength: Int, chunks: UInt64) {
        header = []
        nonce = []
        self.fileKey = fileKey
        self.payloadKey = payloadKey
        counter = chunks
        started = true
        resumedHeaderLength = headerLength
        buffer.reserveCapacity(2 * Self.chunkSize)
    }

    private var resumedHeaderLength: Int?

    /// What continuing this file in another process needs (`kg admin backup --resume`): the
    /// file key, the plaintext bytes sealed so far into whole chunks (a multiple of 64 KiB;
    /// the bytes after them are only in memory), and the file's length up to there.
    public var continuationPoint: (fileKey: [UInt8], plaintext: Int64, sealedLength: Int64) {
        let key = fileKey.withUnsafeBytes { Array($0) }
        let headerLength = resumedHeaderLength ?? (header.count + nonce.count)
        return (
            key, Int64(counter) * Int64(Self.chunkSize),
            Int64(headerLength) + Int64(counter) * Int64(Self.chunkSize + 16)
        )
    }

    /// The header and the payload nonce (called by the first `encrypt` if not before).
    public func start(into sink: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        guard !started else { return }
        started = true
        try (header + nonce).withUnsafeBytes { try sink($0) }
    }

    public func encrypt(_ chunk: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        precondition(!finished, "AgeEncryptor used after finish()")
        try start(into: sink)
        buffer.append(contentsOf: chunk)
        // A full chunk is sealed once a byte follows it: only then is it known not to be the last.
        while buffer.count > Self.chunkSize {
            let sealed = try AgeStream.seal(buffer[0..<Self.chunkSize], key: payloadKey, counter: counter, last: false)
            counter += 1
            buffer.removeFirst(Self.chunkSize)
            try sealed.withUnsafeBytes { try sink($0) }
        }
    }

    /// Seals the last chunk (possibly empty, for an empty payload).
    public func finish(into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard !finished else { return }
        try start(into: sink)
        finished = true
        let sealed = try AgeStream.seal(buffer[...], key: payloadKey, counter: counter, last: true)
        buffer = []
        try sealed.withUnsafeBytes { try sink($0) }
    }
}

/// age's STREAM: the payload key and the per-chunk nonces.
enum AgeStream {
    static func payloadKey(fileKey: SymmetricKey, nonce: [UInt8]) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey, salt: nonce, info: Array("payload".utf8), outputByteCount: 32)
    }

    /// 11 bytes of big-endian counter, then 1 for the last chunk (0 otherwise).
    static func nonce(_ counter: UInt64, last: Bool) -> ChaChaPoly.Nonce {
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in 0..<8 { bytes[10 - i] = UInt8(truncatingIfNeeded: counter >> (8 * UInt64(i))) }
        bytes[11] = last ? 1 : 0
        return try! ChaChaPoly.Nonce(data: bytes)
    }

    static func seal(_ plain: ArraySlice<UInt8>, key: SymmetricKey, counter: UInt64, last: Bool) throws -> [UInt8] {
        let box = try ChaChaPoly.seal(plain, using: key, nonce: nonce(counter, last: last))
        return Array(box.ciphertext) + Array(box.tag)
    }

    static func open(_ sealed: ArraySlice<UInt8>, key: SymmetricKey, counter: UInt64, last: Bool) -> [UInt8]? {
        guard sealed.count >= 16,
            let box = try? ChaChaPoly.SealedBox(nonce: nonce(counter, last: last), ciphertext: sealed.dropLast(16), tag: sealed.suffix(16)),
            let plain = try? ChaChaPoly.open(box, using: key)
        else { return nil }
        return Array(plain)
    }
}
