#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A string value of a backup record too long to hold in memory: longer than
/// ``BackupReaderLimits/maxInlineStringBytes``. ``BackupStreamReader`` decodes it
/// as it streams past (escapes, UTF-8, its length, whether it holds U+0000) and
/// either keeps its bytes in a temp file (a reader made with a spill directory:
/// the restore) or lets them go (the checkers, which need only what it is).
///
/// A large string is valid only while the reader's handler runs for its record:
/// the reader reuses its temp file for the next record.
///
/// ```swift
/// if case .largeString(let text)? = record["full_text"] {
///     try text.forEachPiece { piece in try copy.write(piece) }   // 256 KiB at a time
/// }
/// ```
public final class LargeString: @unchecked Sendable, CustomStringConvertible {
    /// The string's length in UTF-8 bytes (escapes decoded).
    public let byteCount: Int
    /// Whether the string holds U+0000 (which PostgreSQL text cannot store).
    public let containsNUL: Bool
    /// A hash of the bytes (`Hasher`, this process's seed): equal strings, equal hashes,
    /// so the checker can compare long values it did not keep.
    public let contentHash: Int
    /// Where the bytes are kept; nil when the reader kept no copy.
    let spill: StringSpill?
    let offset: Int
    let generation: Int

    init(byteCount: Int, containsNUL: Bool, contentHash: Int, spill: StringSpill?, offset: Int, generation: Int) {
        self.byteCount = byteCount
        self.containsNUL = containsNUL
        self.contentHash = contentHash
        self.spill = spill
        self.offset = offset
        self.generation = generation
    }

    /// Whether the bytes can still be read (kept by the reader, and its record is the current one).
    public var isReadable: Bool { spill.map { $0.generation == generation } ?? false }

    /// Calls `body` with the string's UTF-8 bytes in order, at most `pieceSize` at a time.
    /// Pieces may split a UTF-8 sequence.
    public func forEachPiece(pieceSize: Int = 256 << 10, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let spill else {
            throw LargeStringError("a string of \(byteCount) bytes was checked but not kept (the reader was made for checking only)")
        }
        try spill.read(offset: offset, count: byteCount, generation: generation, pieceSize: pieceSize, body)
    }

    /// The whole string in memory: for callers that need it whole and accept the cost.
    public func loadString() throws -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(byteCount)
        try forEachPiece { bytes.append(contentsOf: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public var description: String { "<a string of \(byteCount) bytes>" }
}

/// A large string could not be kept or read back.
public struct LargeStringError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The temp file in which a reader keeps the large strings of its current record.
///
/// Created on first use in `directory` and unlinked at once, so it has no name:
/// only this object's descriptor holds it, and the space returns to the file system
/// when the object goes away (or the process ends, however it ends). Emptied
/// (``reset()``) before each record, so it holds one record's large strings at most.
final class StringSpill {
    let directory: String
    private var fd: Int32 = -1
    private(set) var size = 0
    private(set) var generation = 0

    init(directory: String) {
        self.directory = directory
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Appends bytes at the end; returns nothing (callers note `size` first for the offset).
    func append(_ bytes: UnsafeRawBufferPointer) throws {
        if fd < 0 { try create() }
        do {
            try FileDescriptorIO.writeAll(fd: fd, bytes, at: size)
        } catch {
            throw LargeStringError("cannot keep a long string aside in \(directory): \(error.reason); free space there")
        }
        size += bytes.count
    }

    /// Forgets every string kept so far (their `LargeString`s stop being readable).
    func reset() {
        generation += 1
        guard size > 0 else { return }
        size = 0
        if fd >= 0 { _ = ftruncate(fd, 0) }
    }

    func read(
        offset: Int, count: Int, generation: Int, pieceSize: Int,
        _ body: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        guard generation == self.generation else {
            throw LargeStringError("a long string was read after the reader moved on to the next record")
        }
        guard count > 0 else { return }
        let read: Int
        do {
            read = try FileDescriptorIO.readChunks(fd: fd, at: offset, limit: count, chunkSize: min(count, max(1, pieceSize)), body)
        } catch let error as SystemCallError {
            throw LargeStringError("cannot read a long string back from \(directory): \(error.reason)")
        }
        guard read == count else { throw LargeStringError("a long string kept in \(directory) is shorter than expected") }
    }

    private func create() throws {
        var template = Array((directory + "/.kg-long-string-XXXXXX").utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard created >= 0 else {
            throw LargeStringError("cannot create a temp file in \(directory) to keep a long string aside: \(String(cString: strerror(errno)))")
        }
        // No name from now on: the descriptor is the only owner.
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(created, F_SETFD, FD_CLOEXEC)
        fd = created
    }
}
