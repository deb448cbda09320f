import Crypto
import Foundation

/// Decrypts an age file as its bytes arrive: reads the header, unwraps the file
/// key with the identities (or the passphrase), checks the header's MAC, then
/// opens each 64 KiB STREAM chunk, handing out plaintext only once authenticated.
/// A wrong key, a changed byte or a cut file throws ``AgeError`` before any
/// plaintext of the damaged part is handed out. Memory: two chunks at most.
public final class AgeDecryptor {
    public enum Key {
        case identities([AgeIdentity])
        case passphrase(String)
        /// The file key itself: a partial file this process's encryptor wrote, continued
        /// with the key kept beside it (`kg admin backup --resume`).
        case fileKey([UInt8])
    }

    static let sealedChunkSize = AgeEncryptor.chunkSize + 16

    private let key: Key
    private var buffer: [UInt8] = []
    private var payloadKey: SymmetricKey?
    private var nonceNeeded = true
    private var fileKey: SymmetricKey?
    private var counter: UInt64 = 0
    private var failed: AgeError?
    /// The header's and nonce's bytes, once read.
    private var headerLength = 0

    public init(key: Key) {
        self.key = key
    }

    /// The magic start of every age file (binary, not armored).
    public static let magic = Array("age-encryption.org/v1\n".utf8)

    public func decrypt(_ chunk: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failed { throw failed }
        buffer.append(contentsOf: chunk)
        do {
            if fileKey == nil {
                guard let end = Self.headerEnd(buffer) else {
                    if buffer.count > AgeHeader.maxSize { throw AgeError(.malformed, "not a valid age file: no header end in its first MiB") }
                    if !buffer.isEmpty && !Self.magic.starts(with: buffer.prefix(Self.magic.count))
                        && !buffer.starts(with: Self.magic)
                    {
                        throw AgeError(.malformed, "not an age file (it does not start with age-encryption.org/v1)")
                    }
                    return
                }
                try openHeader(Array(buffer[0..<end]))
                buffer.removeFirst(end)
                headerLength = end + 16
            }
            if nonceNeeded {
                guard buffer.count >= 16, let fileKey else { return }
                payloadKey = AgeStream.payloadKey(fileKey: fileKey, nonce: Array(buffer[0..<16]))
                buffer.removeFirst(16)
                nonceNeeded = false
            }
            // A sealed chunk is opened once a byte follows it: only then is it known not to be the last.
            while buffer.count > Self.sealedChunkSize, let payloadKey {
                guard let plain = AgeStream.open(buffer[0..<Self.sealedChunkSize], key: payloadKey, counter: counter, last: false) else {
                    throw AgeError(
                        .tampered,
                        "the age file's chunk \(counter + 1) does not authenticate: the file was changed or damaged "
                            + "after it was written; use another copy")
                }
                counter += 1
                buffer.removeFirst(Self.sealedChunkSize)
                try plain.withUnsafeBytes { try sink($0) }
            }
        } catch let error as AgeError {
            failed = error
            throw error
        }
    }

    /// Opens the last chunk; throws if the file ends early.
    public func finish(into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let failed { throw failed }
        guard fileKey != nil, let payloadKey, !nonceNeeded else {
            throw AgeError(.truncated, "the age file ends inside its header: it is truncated; use another copy")
        }
        guard buffer.count >= 16 else {
            throw AgeError(.truncated, "the age file ends before its last chunk: it is truncated (an interrupted copy?); use another copy")
        }
        guard let plain = AgeStream.open(buffer[...], key: payloadKey, counter: counter, last: true) else {
            // A whole non-final chunk here means the file was cut at a chunk boundary.
            let cut =
                buffer.count == Self.sealedChunkSize
                && AgeStream.open(buffer[...], key: payloadKey, counter: counter, last: false) != nil
            throw cut
                ? AgeError(.truncated, "the age file ends before its last chunk: it is truncated; use another copy")
                : AgeError(.tampered, "the age file's last chunk does not authenticate: the file was changed or damaged; use another copy")
        }
        guard !plain.isEmpty || counter == 0 else {
            throw AgeError(.malformed, "not a valid age file: an empty last chunk after others")
        }
        buffer = []
        try plain.withUnsafeBytes { try sink($0) }
    }

    /// The end of a partial file read so far (the file key given as ``Key/fileKey(_:)``): opens
    /// a last whole chunk held back as a non-last one and returns the encryptor that continues
    /// the file after it. Throws if the bytes do not end at a chunk boundary after the nonce.
    public func continuation(into sink: (UnsafeRawBufferPointer) throws -> Void) throws -> AgeEncryptor {
        if let failed { throw failed }
        guard let fileKey, let payloadKey, !nonceNeeded else {
            throw AgeError(.truncated, "the partial age file ends inside its header")
        }
        if buffer.count == Self.sealedChunkSize {
            guard let plain = AgeStream.open(buffer[...], key: payloadKey, counter: counter, last: false) else {
                throw AgeError(.tampered, "the age file's chunk \(counter + 1) does not authenticate: the file was changed or damaged")
            }
            counter += 1
            buffer = []
            try plain.withUnsafeBytes { try sink($0) }
        }
        guard buffer.isEmpty else {
            throw AgeError(.malformed, "the partial age file does not end at a chunk boundary")
        }
        return AgeEncryptor(continuing: fileKey, payloadKey: payloadKey, headerLength: headerLength, chunks: counter)
    }

    /// The length of the longest prefix of an age file of `length` bytes, starting with `prefix`, that
    /// holds its header, its nonce and whole chunks only: what a partial file is cut back to before it is
    /// continued. Nil when the prefix holds no whole header and nonce.
    public static func wholeChunkLength(prefix: [UInt8], length: Int64) -> Int64? {
        guard let end = headerEnd(prefix) else { return nil }
        let start = Int64(end + 16)
        guard length >= start else { return nil }
        return start + (length - start) / Int64(sealedChunkSize) * Int64(sealedChunkSize)
    }

    /// The offset just past the header's `--- MAC\n` line, once it is in the buffer.
    private static func headerEnd(_ buffer: [UInt8]) -> Int? {
        var lineStart = 0
        var index = 0
        while index < buffer.count {
            if buffer[index] == 0x0A {
                if index - lineStart >= 3 && buffer[lineStart] == 0x2D && buffer[lineStart + 1] == 0x2D && buffer[lineStart + 2] == 0x2D {
                    return index + 1
                }
                lineStart = index + 1
            }
            index += 1
        }
        return nil
    }

    private func openHeader(_ bytes: [UInt8]) throws {
        let header = try AgeHeader.parse(bytes)
        var found: SymmetricKey?
        switch key {
        case .identities(let identities):
            guard !header.stanzas.contains(where: { $0.type == "scrypt" }) else {
                throw AgeError(.noMatch, "the file is encrypted with a passphrase, not to a recipient: give --passphrase-file (or the passphrase)")
            }
            outer: for stanza in header.stanzas where stanza.type == "X25519" {
                for identity in identities {
                    if let key = try AgeKeyWrap.unwrap(stanza, identity: identity) {
                        found = key
                        break outer
                    }
                }
            }
            guard let found else {
                throw AgeError(
                    .noMatch,
                    "no identity given opens this file: it was encrypted to other recipients "
                        + "(give the identity file of one of them with --identity FILE)")
            }
            fileKey = found
        case .passphrase(let passphrase):
            guard let stanza = header.stanzas.first(where: { $0.type == "scrypt" }) else {
                throw AgeError(.noMatch, "the file is encrypted to recipients, not with a passphrase: give --identity FILE")
            }
            guard header.stanzas.count == 1 else {
                throw AgeError(.malformed, "not a valid age file: a scrypt stanza must be the only one")
            }
            guard let key = try AgeKeyWrap.unwrap(stanza, passphrase: passphrase) else {
                throw AgeError(.noMatch, "wrong passphrase: it does not open this file")
            }
            fileKey = key
        case .fileKey(let bytes):
            guard bytes.count == 16 else { throw AgeError(.badKey, "the kept file key is not 16 bytes") }
            fileKey = SymmetricKey(data: bytes)
        }
        guard let fileKey,
            HMAC<SHA256>.isValidAuthenticationCode(
                header.mac, authenticating: Array(header.textBeforeMAC.utf8),
                using: AgeHeader.macKey(fileKey: fileKey))
        else {
            throw AgeError(.tampered, "the age file's header does not authenticate (its MAC is wrong): the file was changed; use another copy")
        }
    }
}
