import Foundation
import XCTest

@testable import KGAge

/// An age file continued in another process (`kg admin backup --resume`): the partial file
/// holds the header, the nonce and whole chunks; the file key opens them and gives the
/// encryptor that writes the rest. The whole is the file one pass would have written.
final class AgeContinuationTests: XCTestCase {
    private let plain = (0..<300_000).map { UInt8(truncatingIfNeeded: ($0 * 7) % 253) }
    private let sealed = 64 * 1024 + 16

    /// Encrypts `count` bytes of `plain` and stops as an interrupted download does: what is on
    /// disk (header and whole chunks) and the continuation point.
    private func interrupted(after count: Int, _ encryptor: AgeEncryptor) throws -> (disk: [UInt8], key: [UInt8], plaintext: Int64) {
        var disk: [UInt8] = []
        try Array(plain[0..<count]).withUnsafeBytes { try encryptor.encrypt($0) { disk.append(contentsOf: $0) } }
        try encryptor.start { disk.append(contentsOf: $0) }
        let point = encryptor.continuationPoint
        XCTAssertEqual(point.sealedLength, Int64(disk.count), "the bytes on disk end at the last whole chunk")
        XCTAssertEqual(point.plaintext, count == 0 ? 0 : Int64((count - 1) / (64 * 1024) * 64 * 1024), "a chunk is sealed once a byte follows it")
        return (disk, point.fileKey, point.plaintext)
    }

    private func continued(_ disk: [UInt8], key: [UInt8]) throws -> (encryptor: AgeEncryptor, opened: [UInt8]) {
        let decryptor = AgeDecryptor(key: .fileKey(key))
        var opened: [UInt8] = []
        var offset = 0
        while offset < disk.count {
            let piece = Array(disk[offset..<min(disk.count, offset + 5_000)])
            try piece.withUnsafeBytes { try decryptor.decrypt($0) { opened.append(contentsOf: $0) } }
            offset += 5_000
        }
        let encryptor = try decryptor.continuation { opened.append(contentsOf: $0) }
        return (encryptor, opened)
    }

    func testAContinuedFileDecryptsWhole() throws {
        let identity = try AgeIdentity(parsing: AgeTests.testIdentity)
        for cut in [0, 10, 65_536, 65_537, 200_000, 262_144] {
            let first = try interrupted(after: cut, try AgeEncryptor(recipients: [identity.recipient]))
            var (encryptor, opened) = try continued(first.disk, key: first.key)
            XCTAssertEqual(opened, Array(plain[0..<Int(first.plaintext)]), "cut at \(cut): the whole chunks open to the plaintext they cover")
            var file = first.disk
            try Array(plain[Int(first.plaintext)...]).withUnsafeBytes { try encryptor.encrypt($0) { file.append(contentsOf: $0) } }
            try encryptor.finish { file.append(contentsOf: $0) }
            opened = []
            let decryptor = AgeDecryptor(key: .identities([identity]))
            try file.withUnsafeBytes { try decryptor.decrypt($0) { opened.append(contentsOf: $0) } }
            try decryptor.finish { opened.append(contentsOf: $0) }
            XCTAssertEqual(opened, plain, "cut at \(cut): the identity opens the continued file")
            encryptor = try continued(first.disk, key: first.key).encryptor
            XCTAssertEqual(encryptor.continuationPoint.sealedLength, Int64(first.disk.count), "a continued encryptor knows its length")
        }
    }

    func testAPartialFileIsCutBackToWholeChunksAndAChangeIsRefused() throws {
        let first = try interrupted(after: 200_000, try AgeEncryptor(passphrase: "p", workFactor: 10))
        let header = first.disk.count - 3 * sealed
        XCTAssertEqual(AgeDecryptor.wholeChunkLength(prefix: first.disk, length: Int64(first.disk.count) + 1_000), Int64(first.disk.count))
        XCTAssertEqual(AgeDecryptor.wholeChunkLength(prefix: first.disk, length: Int64(first.disk.count) - 1), Int64(header + 2 * sealed))
        XCTAssertNil(AgeDecryptor.wholeChunkLength(prefix: Array(first.disk[0..<20]), length: 20))

        XCTAssertThrowsError(try continued(Array(first.disk.dropLast(1)), key: first.key), "not at a chunk boundary")
        var changed = first.disk
        changed[changed.count - 100] ^= 1
        XCTAssertThrowsError(try continued(changed, key: first.key)) { error in
            XCTAssertEqual((error as? AgeError)?.kind, .tampered)
        }
        var other = first.key
        other[0] ^= 1
        XCTAssertThrowsError(try continued(first.disk, key: other)) { error in
            XCTAssertEqual((error as? AgeError)?.kind, .tampered, "another key: the header's MAC does not authenticate")
        }
    }
}
