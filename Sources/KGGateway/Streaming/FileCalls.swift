import Foundation
import KGFormat
import NIOCore
import NIOPosix

/// The gateway's blocking file-system calls (`open`, `rename`, `unlink`, `futimens`,
/// `fstat`, `close`, `pread`), run on NIO's thread pool instead of the cooperative pool: on a
/// stalled volume (NFS, a full disk's slow path) a call that hangs holds one of the
/// pool's threads, never one of the few threads every request handler needs.
///
/// ```swift
/// let fd = try await FileCalls.open(path, O_RDONLY | O_CLOEXEC)   // -1 and errno's text when it fails
/// await FileCalls.unlink(path)
/// while let chunk = try await FileCalls.readChunk(fd, at: offset, upTo: 256 * 1024) { … }   // the chunked reader
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

    /// Up to `count` bytes of the file at `offset` (`pread(2)`, retried when interrupted), in a
    /// new buffer: the one chunked reader of the routes that send files (``BackupStreamer``,
    /// ``FileRangeStreamer``, `GET /admin/checkpoints/{id}`). Nil at the end of the file, and
    /// when the read fails (each caller says what a missing chunk means for it).
    static func readChunk(_ fd: Int32, at offset: Int, upTo count: Int) async throws -> ByteBuffer? {
        try await NIOThreadPool.singleton.runIfActive {
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { ptr in
                (try? FileDescriptorIO.read(fd: fd, into: UnsafeMutableRawBufferPointer(rebasing: ptr[0..<count]), at: offset)) ?? 0
            }
            return n > 0 ? buffer : nil
        }
    }

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }
}
