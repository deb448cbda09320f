import Foundation

/// A download in progress: written to `<final>.partial`, renamed to the final
/// name only when complete and checked, removed on failure. Never overwrites an
/// existing file: a taken name gets a `-2`, `-3`, … suffix.
final class PartialFile {
    let partialPath: String
    private let finalPath: String
    private var fd: Int32
    private var committed = false

    init(final: String) throws {
        finalPath = final
        partialPath = final + ".partial"
        fd = open(partialPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw CLIError("cannot write \(partialPath): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        if !committed { unlink(partialPath) }
    }

    func write(_ chunk: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < chunk.count {
            let n = Foundation.write(fd, chunk.baseAddress! + offset, chunk.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot write \(partialPath): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    func discard() {
        if fd >= 0 { close(fd) }
        fd = -1
        unlink(partialPath)
    }

    /// Syncs, closes and renames to a free final name; returns it.
    func commit() throws -> String {
        fsync(fd)
        close(fd)
        fd = -1
        var target = finalPath
        var n = 2
        while FileManager.default.fileExists(atPath: target) {
            target = Self.suffixed(finalPath, n)
            n += 1
        }
        guard rename(partialPath, target) == 0 else {
            throw CLIError("cannot rename \(partialPath) to \(target): \(String(cString: strerror(errno)))")
        }
        committed = true
        return target
    }

    /// `full_backup_X.json` → `full_backup_X-2.json` (keeps `.json` / `.json.gz`).
    static func suffixed(_ path: String, _ n: Int) -> String {
        for ext in [".json.gz", ".json"] where path.hasSuffix(ext) {
            return String(path.dropLast(ext.count)) + "-\(n)" + ext
        }
        return path + "-\(n)"
    }
}
