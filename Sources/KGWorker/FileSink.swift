import Foundation
import KGFormat

/// A buffered, exclusive-create output file for job data in temp storage,
/// optionally gzip- or zstd-compressed on the way. Flushes often enough that a reader
/// tailing the file (the gateway) sees a steady stream.
final class FileSink {
    private let fd: Int32
    private var buffer: [UInt8] = []
    private var compressor: StreamCompressor?
    private let flushAt: Int
    private var closed = false
    let path: String
    /// Bytes written to the file (after compression).
    private(set) var bytesWritten = 0

    convenience init(path: String, gzip: Bool, flushAt: Int = 256 * 1024) throws {
        try self.init(path: path, compression: gzip ? .gzip : .none, flushAt: flushAt)
    }

    init(path: String, compression: BackupCompression, flushAt: Int = 256 * 1024) throws {
        self.path = path
        self.flushAt = flushAt
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw JobFailure(.storage, "cannot create temp file \(path): \(String(cString: strerror(errno)))")
        }
        compressor = try compression.makeCompressor()
        buffer.reserveCapacity(flushAt + 64 * 1024)
    }

    deinit {
        if !closed { close(fd) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        // A long record goes through in slices, so the buffer stays at its size.
        if bytes.count > flushAt {
            var start = 0
            while start < bytes.count {
                try write(UnsafeRawBufferPointer(rebasing: bytes[start..<min(bytes.count, start + flushAt)]))
                start += flushAt
            }
            return
        }
        if let compressor {
            compressor.compress(bytes) { buffer.append(contentsOf: $0) }
        } else {
            buffer.append(contentsOf: bytes)
        }
        if buffer.count >= flushAt { try flush() }
    }

    func write(_ string: String) throws {
        var s = string
        try s.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }

    /// Writes what is buffered to the file.
    func flush() throws {
        do {
            try FileDescriptorIO.writeAll(fd: fd, buffer)
        } catch {
            throw JobFailure(.storage, "cannot write temp file \(path): \(error.reason)")
        }
        bytesWritten += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    /// Ends the compressed stream, flushes and closes.
    func finish() throws {
        compressor?.finish { buffer.append(contentsOf: $0) }
        try flush()
        closed = true
        close(fd)
    }
}
