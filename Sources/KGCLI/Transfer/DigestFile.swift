import Crypto
import Foundation

/// The `<file>.sha256` beside every backup the CLI saves, in `sha256sum`
/// format (`<64 hex>  <file name>\n`), so `sha256sum -c full_backup_X.json.sha256`
/// checks it where the file is. Written from the digest of the bytes as they
/// were written (``PartialFile`` hashes on the same pass); read back by
/// `kg admin verify` and `kg admin list-backups --check`.
enum DigestFile {
    static let suffix = ".sha256"

    static func path(for file: String) -> String { file + suffix }

    /// What a file's sidecar says about it, once the file has been read.
    enum Status: Equatable {
        /// No sidecar beside the file.
        case absent
        /// The sidecar cannot be read or does not hold a SHA-256 line.
        case unreadable(String)
        case ok(String)
        /// The file's bytes differ from those the sidecar was written for.
        case mismatch(expected: String, actual: String)
        /// The file's own authentication (age) says its bytes changed.
        case damaged(String)

        var word: String {
            switch self {
            case .absent: return "absent"
            case .unreadable: return "unreadable"
            case .ok: return "ok"
            case .mismatch: return "mismatch"
            case .damaged: return "damaged"
            }
        }

        /// A damage finding (the bytes changed, or the proof of them is broken).
        var isDamage: Bool {
            switch self {
            case .absent, .ok: return false
            case .unreadable, .mismatch, .damaged: return true
            }
        }
    }

    /// The expected digest from `<file>.sha256`: nil when there is none; throws
    /// a description when it exists but holds no `sha256sum` line.
    static func expected(for file: String) throws -> String? {
        let sidecar = path(for: file)
        guard FileManager.default.fileExists(atPath: sidecar) else { return nil }
        guard let data = FileManager.default.contents(atPath: sidecar) else {
            throw DigestError("cannot read \(sidecar)")
        }
        guard let line = String(decoding: data.prefix(4096), as: UTF8.self).split(separator: "\n").first,
            let hex = parse(line: String(line))
        else {
            throw DigestError("\(sidecar) holds no sha256sum line (`<64 hex digits>  <file name>`)")
        }
        return hex
    }

    /// The hex digest of a `sha256sum` line (`hex  name` or `hex *name`), lowercased.
    static func parse(line: String) -> String? {
        let hex = line.prefix(64)
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else { return nil }
        let rest = line.dropFirst(64)
        guard rest.hasPrefix("  ") || rest.hasPrefix(" *") else { return nil }
        return hex.lowercased()
    }

    /// Compares the file's digest (computed while it was read) with its sidecar.
    static func status(for file: String, actual: String) -> Status {
        do {
            guard let expected = try expected(for: file) else { return .absent }
            return expected == actual ? .ok(actual) : .mismatch(expected: expected, actual: actual)
        } catch {
            return .unreadable("\(error)")
        }
    }

    /// Writes `<file>.sha256` (through a temporary file, renamed into place).
    static func write(hex: String, for file: String) throws {
        let sidecar = path(for: file)
        let name = (file as NSString).lastPathComponent
        let temporary = sidecar + "." + String(UInt32.random(in: 0...UInt32.max), radix: 16) + ".partial"
        let line = Data("\(hex)  \(name)\n".utf8)
        guard FileManager.default.createFile(atPath: temporary, contents: line, attributes: [.posixPermissions: 0o600]) else {
            throw DigestError("cannot write \(temporary)")
        }
        guard rename(temporary, sidecar) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw DigestError("cannot save \(sidecar): \(reason)")
        }
    }

    /// A digest in `sha256sum`'s spelling: 64 lowercase hex digits.
    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    struct DigestError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
