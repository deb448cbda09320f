import Foundation
import NIOPosix

/// The gateway's blocking file-system calls (`open`, `rename`, `unlink`, `futimens`,
/// `fstat`, `close`), run on NIO's thread pool instead of the cooperative pool: on a
/// stalled volume (NFS, a full disk's slow path) a call that hangs holds one of the
/// pool's threads, never one of the few threads every request handler needs.
///
/// ```swift
/// let fd = try await FileCalls.open(path, O_RDONLY | O_CLOEXEC)   // -1 and errno's text when it fails
/// await FileCalls.unlink(path)
/// ```
enum FileCalls {
    /// `open(2)`: the descriptor, or -1 with `errno`'s text.
    static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0) async throws -> (fd: Int32, error: String?) {
        try await NIOThreadPool.singleton.runIfActive {
            let fd = Glibc.open(path, flags, mode)
            return (fd, fd < 0 ? String(cString: strerror(errno)) : nil)
        }
    }

    /// `rename(2)`; throws `errno`'s text.
    static func rename(_ from: String, _ to: String) async throws {
        try await NIOThreadPool.singleton.runIfActive {
            guard Glibc.rename(from, to) == 0 else { throw Failed(description: String(cString: strerror(errno))) }
        }
    }

    /// `unlink(2)`, ignoring a missing file; never throws (cleanup paths must not fail).
    static func unlink(_ paths: String...) async {
        _ = try? await NIOThreadPool.singleton.runIfActive {
            for path in paths { _ = Glibc.unlink(path) }
        }
    }

    /// `close(2)`.
    static func close(_ fd: Int32) async {
        guard fd >= 0 else { return }
        _ = try? await NIOThreadPool.singleton.runIfActive { _ = Glibc.close(fd) }
    }

    /// Sets the file's mtime to now (`futimens(2)`): a lease the janitor reads.
    static func touch(_ fd: Int32) async {
        _ = try? await NIOThreadPool.singleton.runIfActive { _ = futimens(fd, nil) }
    }

    /// The file's size (`fstat(2)`), or nil.
    static func size(_ fd: Int32) async -> Int? {
        try? await NIOThreadPool.singleton.runIfActive {
            var info = stat()
            return fstat(fd, &info) == 0 ? Int(info.st_size) : nil
        }
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }
}
