import Crypto
import Foundation
import KGFormat

/// A download in progress: written to `<final>.<random>.partial` (its own file,
/// even when two backups of one kind start in the same second), moved to the
/// final name only when complete and checked, removed on failure. What a
/// taken final name does is the caller's choice (``OnTaken``); without
/// `.replace` the move is a `link`, which fails rather than replaces.
/// The bytes are hashed as they are written: the saved file gets its
/// `<name>.sha256` (``DigestFile``) from the same pass.
final class PartialFile {
    enum OnTaken {
        /// `name-2.json`, `name-3.json`, …: for names the server chose.
        case suffix
        /// Refuse: the user named this file and did not say `--force`.
        case refuse
        /// Replace it (`--force`), atomically.
        case replace
    }

    let partialPath: String
    let finalPath: String
    let onTaken: OnTaken
    private var fd: Int32
    /// Committed, or kept for a resumed download: not removed on deinit.
    private var committed = false
    /// Bytes in the file.
    private(set) var length: Int64 = 0
    private var hasher = SHA256()
    /// The SHA-256 of the bytes written, hex, once committed.
    private(set) var digest: String?
    /// Where the writeback this download asked for ends (see ``write(_:)``).
    private var writebackRequested: Int64 = 0
    /// How many new bytes make the next writeback request.
    static let writebackStep: Int64 = 8 << 20

    init(final: String, onTaken: OnTaken) throws {
        finalPath = final
        self.onTaken = onTaken
        partialPath = final + "." + String(UInt32.random(in: 0...UInt32.max), radix: 16) + ".partial"
        fd = open(partialPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CLIError("cannot write \(partialPath): \(String(cString: strerror(errno)))")
        }
    }

    /// Continues the partial file an interrupted download left (`kg admin backup --resume`):
    /// its bytes go through `reread` (the integrity check) and the digest first, in order,
    /// then new bytes are appended. Nothing is removed if this fails.
    init(resuming partialPath: String, final: String, onTaken: OnTaken, reread: (UnsafeRawBufferPointer) throws -> Void) throws {
        self.partialPath = partialPath
        finalPath = final
        self.onTaken = onTaken
        committed = true  // until it is read whole, a failure must leave it as it is
        fd = open(partialPath, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            throw CLIError("cannot open \(partialPath) to continue it: \(String(cString: strerror(errno)))")
        }
        do {
            try FileDescriptorIO.readChunks(fd: fd) { chunk in
                hasher.update(bufferPointer: chunk)
                try reread(chunk)
                length += Int64(chunk.count)
            }
        } catch let error as SystemCallError {
            throw CLIError("cannot read \(partialPath): \(error.reason)")
        }
        committed = false
    }

    /// The last `count` bytes of the file (fewer if it is shorter).
    func tail(_ count: Int) throws -> [UInt8] {
        let n = Int(min(Int64(count), length))
        var bytes = [UInt8](repeating: 0, count: n)
        let read = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n, off_t(length) - off_t(n)) }
        guard read == n else { throw CLIError("cannot read \(partialPath): \(String(cString: strerror(errno)))") }
        return bytes
    }

    /// Closes the file and leaves it where it is (an interrupted download to continue).
    func keep() {
        if fd >= 0 {
            fsync(fd)
            close(fd)
        }
        fd = -1
        committed = true
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(partialPath) }
    }

    func write(_ chunk: UnsafeRawBufferPointer) throws {
        hasher.update(bufferPointer: chunk)
        do {
            try FileDescriptorIO.writeAll(fd: fd, chunk)
        } catch {
            throw CLIError("cannot write \(partialPath): \(error.reason)")
        }
        length += Int64(chunk.count)
        // The commit's fsync waited for the whole file (1.0–1.4 s of a 531 MB backup on this
        // machine, after the last byte). Asking the kernel to start writing each 8 MiB as it is
        // written overlaps the disk with the transfer, and the fsync waits only for the tail.
        // POSIX_FADV_DONTNEED starts the writeback of dirty pages and leaves them cached (it
        // drops only clean ones); it is advice: the fsync still decides.
        if length - writebackRequested >= Self.writebackStep {
            _ = posix_fadvise(fd, off_t(writebackRequested), off_t(length - writebackRequested), POSIX_FADV_DONTNEED)
            writebackRequested = length
        }
    }

    func discard() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(partialPath)
    }

    /// Syncs, closes and renames to a free final name, then writes its
    /// `<name>.sha256` beside it; returns the name.
    func commit() throws -> String {
        let path = try move()
        let hex = DigestFile.hex(hasher.finalize())
        digest = hex
        do {
            try DigestFile.write(hex: hex, for: path)
        } catch {
            // The backup itself is whole and saved: say what is missing, do not fail it.
            Terminal.error(
                "warning: \(error); \(path) was saved without its digest file "
                    + "(`sha256sum \(path) > \(DigestFile.path(for: path))` makes one)")
        }
        return path
    }

    private func move() throws -> String {
        fsync(fd)
        close(fd)
        fd = -1
        if onTaken == .replace {
            guard rename(partialPath, finalPath) == 0 else {
                throw CLIError("cannot save \(partialPath) as \(finalPath): \(String(cString: strerror(errno)))")
            }
            committed = true
            return finalPath
        }
        var target = finalPath
        var n = 2
        // link() never replaces an existing file: a name taken meanwhile by another
        // download (or anything else) moves us on to the next suffix.
        while link(partialPath, target) != 0 {
            guard errno == EEXIST else {
                throw CLIError("cannot save \(partialPath) as \(target): \(String(cString: strerror(errno)))")
            }
            guard onTaken == .suffix else {
                unlink(partialPath)
                committed = true
                throw CLIError(
                    "\(finalPath) was created by something else while the download ran; it was left "
                        + "as it is and the download was not saved. Run the command again with another --output, or with --force.")
            }
            target = Self.suffixed(finalPath, n)
            n += 1
        }
        unlink(partialPath)
        committed = true
        return target
    }

    /// `full_backup_X.json` → `full_backup_X-2.json` (keeps `.json` / `.json.gz` / `.json.zst`).
    static func suffixed(_ path: String, _ n: Int) -> String {
        if path.hasSuffix(".age") { return suffixed(String(path.dropLast(4)), n) + ".age" }
        for ext in [".json.gz", ".json.zst", ".json"] where path.hasSuffix(ext) {
            return String(path.dropLast(ext.count)) + "-\(n)" + ext
        }
        return path + "-\(n)"
    }
}
