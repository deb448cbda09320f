import Crypto
import Foundation
import XCTest
@testable import KGAge

/// The age framing (age-encryption.org/v1) written for kg, against the spec's
/// test-kit values (C2SP/CCTV age: its identity, its file key "YELLOW SUBMARINE",
/// its header MAC and STREAM rules) and the Debian `age` tool both ways.
final class AgeTests: XCTestCase {
    /// The test kit's X25519 identity.
    static let testIdentity = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"

    func encrypt(_ plain: [UInt8], _ encryptor: AgeEncryptor, chunk: Int = 10_000) throws -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        while offset < plain.count {
            let piece = Array(plain[offset..<min(plain.count, offset + chunk)])
            try piece.withUnsafeBytes { try encryptor.encrypt($0) { out.append(contentsOf: $0) } }
            offset += chunk
        }
        try encryptor.finish { out.append(contentsOf: $0) }
        return out
    }

    func decrypt(_ file: [UInt8], _ key: AgeDecryptor.Key, chunk: Int = 7_777) throws -> [UInt8] {
        let decryptor = AgeDecryptor(key: key)
        var out: [UInt8] = []
        var offset = 0
        while offset < file.count {
            let piece = Array(file[offset..<min(file.count, offset + chunk)])
            try piece.withUnsafeBytes { try decryptor.decrypt($0) { out.append(contentsOf: $0) } }
            offset += chunk
        }
        try decryptor.finish { out.append(contentsOf: $0) }
        return out
    }

    /// The offset past the header's `--- MAC` line.
    static func headerEnd(_ file: [UInt8]) -> Int {
        let marker = Array("\n--- ".utf8)
        let start = (0...(file.count - marker.count)).first { Array(file[$0..<($0 + marker.count)]) == marker }!
        return file[(start + 1)...].firstIndex(of: 0x0A)! + 1
    }

    func testKeysAreBech32AsAgeWritesThem() throws {
        let identity = try AgeIdentity(parsing: Self.testIdentity)
        XCTAssertEqual(identity.text, Self.testIdentity, "round trip, uppercase")
        let recipient = identity.recipient
        XCTAssertTrue(recipient.text.hasPrefix("age1"))
        XCTAssertEqual(try AgeRecipient(parsing: recipient.text), recipient)
        // One character changed: the checksum catches it.
        var broken = Array(Self.testIdentity)
        broken[20] = broken[20] == "Q" ? "P" : "Q"
        XCTAssertThrowsError(try AgeIdentity(parsing: String(broken)))
        XCTAssertThrowsError(try AgeRecipient(parsing: "age1notarecipient"))
        XCTAssertThrowsError(try AgeRecipient(parsing: Self.testIdentity), "an identity is not a recipient")
    }

    /// The test kit's `x25519` vector, built step by step as its generator does:
    /// file key "YELLOW SUBMARINE", one X25519 stanza for the test identity, the
    /// header MAC over the header through `---`, a 16-byte nonce, one final chunk "age".
    func testTheTestKitsX25519FileDecrypts() throws {
        let identity = try AgeIdentity(parsing: Self.testIdentity)
        let fileKey = SymmetricKey(data: Array("YELLOW SUBMARINE".utf8))
        let ephemeral = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32))
        let share = Array(ephemeral.publicKey.rawRepresentation)
        let secret = try identity.privateKey.sharedSecretFromKeyAgreement(with: ephemeral.publicKey)
        let wrapKey = secret.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: share + Array(identity.recipient.publicKey.rawRepresentation),
            sharedInfo: Array("age-encryption.org/v1/X25519".utf8), outputByteCount: 32)
        let body = try ChaChaPoly.seal(
            Array("YELLOW SUBMARINE".utf8), using: wrapKey, nonce: ChaChaPoly.Nonce(data: [UInt8](repeating: 0, count: 12)))
        func b64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "") }
        var header = "age-encryption.org/v1\n-> X25519 \(b64(share))\n\(b64(Array(body.ciphertext) + Array(body.tag)))\n---"
        let macKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey, info: Array("header".utf8), outputByteCount: 32)
        header += " " + b64(Array(HMAC<SHA256>.authenticationCode(for: Array(header.utf8), using: macKey))) + "\n"
        let nonce = [UInt8](repeating: 0x42, count: 16)
        let payloadKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey, salt: nonce, info: Array("payload".utf8), outputByteCount: 32)
        var chunkNonce = [UInt8](repeating: 0, count: 12)
        chunkNonce[11] = 1
        let chunk = try ChaChaPoly.seal(Array("age".utf8), using: payloadKey, nonce: ChaChaPoly.Nonce(data: chunkNonce))
        let file = Array(header.utf8) + nonce + Array(chunk.ciphertext) + Array(chunk.tag)

        XCTAssertEqual(try decrypt(file, .identities([identity]), chunk: 1), Array("age".utf8))
        XCTAssertEqual(try decrypt(file, .identities([AgeIdentity(), identity])), Array("age".utf8), "any identity that matches")
        // hmac_bad: one bit of the MAC changed.
        var badMAC = file
        let macStart = header.utf8.count - 10
        badMAC[macStart] = badMAC[macStart] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        XCTAssertThrowsError(try decrypt(badMAC, .identities([identity])))
        // no match.
        XCTAssertThrowsError(try decrypt(file, .identities([AgeIdentity()]))) { error in
            XCTAssertEqual((error as? AgeError)?.kind, .noMatch)
        }
    }

    /// STREAM edges: empty, one byte, exactly one chunk, one chunk and a byte, three chunks.
    func testRoundTripsAtChunkEdges() throws {
        let identity = AgeIdentity()
        for size in [0, 1, 65_536, 65_537, 3 * 65_536, 200_000] {
            let plain = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let file = try encrypt(plain, try AgeEncryptor(recipients: [identity.recipient, AgeIdentity().recipient]))
            let headerEnd = Self.headerEnd(file)
            let chunks = max(1, (size + 65_535) / 65_536)
            XCTAssertEqual(file.count, headerEnd + 16 + size + 16 * chunks, "nonce, then each chunk with its tag (size \(size))")
            XCTAssertEqual(try decrypt(file, .identities([identity])), plain, "size \(size)")
            XCTAssertEqual(try decrypt(file, .identities([identity]), chunk: 65_552), plain, "size \(size), chunked on the boundary")
        }
    }

    func testPassphrase() throws {
        let plain = Array("the graph".utf8)
        let file = try encrypt(plain, try AgeEncryptor(passphrase: "correct horse", workFactor: 10))
        XCTAssertTrue(String(decoding: file.prefix(100), as: UTF8.self).contains("-> scrypt "))
        XCTAssertEqual(try decrypt(file, .passphrase("correct horse")), plain)
        XCTAssertThrowsError(try decrypt(file, .passphrase("wrong"))) { XCTAssertEqual(($0 as? AgeError)?.kind, .noMatch) }
        XCTAssertThrowsError(try decrypt(file, .identities([AgeIdentity()]))) { XCTAssertEqual(($0 as? AgeError)?.kind, .noMatch) }
    }

    func testTamperingAndTruncationAreRefused() throws {
        let identity = AgeIdentity()
        let plain = [UInt8](repeating: 9, count: 150_000)
        let file = try encrypt(plain, try AgeEncryptor(recipients: [identity.recipient]))
        for offset in [file.count - 5, file.count - 70_000, file.count - 140_000] {
            var changed = file
            changed[offset] ^= 1
            XCTAssertThrowsError(try decrypt(changed, .identities([identity])), "byte \(offset)") {
                XCTAssertEqual(($0 as? AgeError)?.kind, .tampered, "\($0)")
            }
        }
        let headerEnd = Self.headerEnd(file)
        for cut in [headerEnd - 3, headerEnd + 10, file.count - 17, headerEnd + 16 + 65_552, headerEnd + 16 + 2 * 65_552] {
            XCTAssertThrowsError(try decrypt(Array(file.prefix(cut)), .identities([identity])), "cut at \(cut)")
        }
        XCTAssertThrowsError(try decrypt(Array("{\"version\": \"1.0\"}".utf8), .identities([identity]))) {
            XCTAssertEqual(($0 as? AgeError)?.kind, .malformed)
        }
    }

    // MARK: the age tool

    private func run(_ executable: String, _ arguments: [String], input: [UInt8]? = nil) throws -> (status: Int32, out: [UInt8], err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input))
            try inPipe.fileHandleForWriting.close()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let error = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, [UInt8](data), String(decoding: error, as: UTF8.self))
    }

    private func requireAge() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/age") else {
            return XCTFail("/usr/bin/age is missing: install the age package (deploy/local/services.sh install)")
        }
    }

    func testTheAgeToolReadsWhatKGWritesAndKGReadsWhatAgeWrites() throws {
        try requireAge()
        let dir = NSTemporaryDirectory() + "kg-age-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let keygen = try run("/usr/bin/age-keygen", ["-o", dir + "/key.txt"])
        XCTAssertEqual(keygen.status, 0, keygen.err)
        let identities = try AgeIdentity.parseFile(try String(contentsOfFile: dir + "/key.txt", encoding: .utf8), name: "key.txt")
        let recipient = identities[0].recipient
        XCTAssertTrue(keygen.err.contains(recipient.text), "age-keygen prints the same recipient: \(keygen.err)")

        let plain = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 % 251) }
        // kg → age
        let ours = try encrypt(plain, try AgeEncryptor(recipients: [recipient]))
        try Data(ours).write(to: URL(fileURLWithPath: dir + "/ours.age"))
        let opened = try run("/usr/bin/age", ["-d", "-i", dir + "/key.txt", dir + "/ours.age"])
        XCTAssertEqual(opened.status, 0, opened.err)
        XCTAssertEqual(opened.out, plain, "age decrypts what kg wrote")
        // age → kg
        try Data(plain).write(to: URL(fileURLWithPath: dir + "/plain.bin"))
        let theirs = try run("/usr/bin/age", ["-r", recipient.text, "-o", dir + "/theirs.age", dir + "/plain.bin"])
        XCTAssertEqual(theirs.status, 0, theirs.err)
        let written = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/theirs.age")))
        XCTAssertEqual(try decrypt(written, .identities(identities)), plain, "kg decrypts what age wrote")
        XCTAssertThrowsError(try decrypt(written, .identities([AgeIdentity()])))
    }
}
