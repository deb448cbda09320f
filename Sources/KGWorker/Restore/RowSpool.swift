import Foundation
import KGFormat

/// COPY text rows kept aside during a restore and sent later on the same
/// connection (which runs one COPY at a time): the `created_at` texts of the
/// concepts loaded in binary. Up to `memoryBytes` stay in memory; past that they
/// go to a temp file in `directory`, unlinked as soon as it is created, so the
/// rows never cost memory per record and no path leaves a file behind (the open
/// descriptor owns the space; ``close()`` or deinit releases it).
final class RowSpool {
    let memoryBytes: Int
    let directory: String
    private var buffer: [UInt8] = []
    private var fd: Int32 = -1
    private var fileBytes = 0
    private(set) var rows = 0

    init(memoryBytes: Int = 1 << 20, directory: String) {
        self.memoryBytes = max(1, memoryBytes)
        self.directory = directory
    }

    deinit { close() }

    var isEmpty: Bool { rows == 0 }

    /// Adds one row (its bytes, newline included).
    func append(_ row: [UInt8]) throws {
        buffer.append(contentsOf: row)
        rows += 1
        if buffer.count >= memoryBytes { try flush() }
    }

    /// Hands every row to `body` in chunks of at most about 1 MiB, in order.
    func forEachChunk(_ body: ([UInt8]) throws -> Void) throws {
        if fd >= 0 {
            try flush()
            let read: Int
            do {
                read = try FileDescriptorIO.readChunks(fd: fd, at: 0, limit: fileBytes) { try body(Array($0)) }
            } catch let error as SystemCallError {
                throw SpoolError("cannot read back the restore's temp file in \(directory): \(error.reason)")
            }
            guard read == fileBytes else { throw SpoolError("the restore's temp file in \(directory) ended early") }
        } else if !buffer.isEmpty {
            try body(buffer)
        }
    }

    func close() {
        if fd >= 0 { Foundation.close(fd) }
        fd = -1
        buffer = []
    }

    private func flush() throws {
        guard !buffer.isEmpty else { return }
        if fd < 0 {
            var template =
                Array((directory.hasSuffix("/") ? directory : directory + "/").utf8CString.dropLast()) + Array("kg-rows-XXXXXX".utf8CString)
            fd = mkstemp(&template)
            guard fd >= 0 else {
                throw SpoolError("cannot create a temp file in \(directory) (\(String(cString: strerror(errno)))); make temp_dir writable")
            }
            unlink(template)
        }
        do {
            try FileDescriptorIO.writeAll(fd: fd, buffer, at: fileBytes)
        } catch {
            throw SpoolError("cannot write the restore's temp file in \(directory) (\(error.reason)); free space there")
        }
        fileBytes += buffer.count
        buffer.removeAll(keepingCapacity: true)
    }

    struct SpoolError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
