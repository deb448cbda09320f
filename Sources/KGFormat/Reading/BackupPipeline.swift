/// The one way to read a backup, as pgBackRest's I/O filter group reads a file:
/// the bytes as stored go through the ``ContentDecoder`` (gzip, zstd or plain, known by
/// their magic bytes) into the ``BackupStreamReader``, whose events go to the observers
/// a job composes, in order: the ``IntegrityChecker``, a ``BackupHeaderPeek``, the worker's
/// staging loader, the CLI's stitch collector, …
///
/// ```swift
/// let checker = IntegrityChecker()
/// let peek = BackupHeaderPeek(stopsAtData: false)
/// let pipeline = BackupPipeline(observers: [checker.observe, peek.observe, load])
/// try pipeline.read(path: path) { chunk, bytesRead in progress(bytesRead) }
/// // or, bytes from elsewhere (an upload, a decryptor):
/// try pipeline.feed(chunk)   // as often as needed
/// try pipeline.finish()
/// ```
///
/// Errors pass through unchanged: ``FileReadError`` (the file), ``CompressionError`` and
/// ``BackupReadError`` (its content), and whatever an observer throws. An observer ends
/// the read early by throwing ``Stop``: ``read(path:chunkSize:onChunk:)`` then returns
/// ``Ending/stopped``. Not thread-safe; one pipeline reads one document.
public final class BackupPipeline {
    /// Sees each event of the document, in file order.
    public typealias Observer = (BackupEvent) throws -> Void

    /// Thrown by an observer that has seen enough (a header peek).
    public struct Stop: Error {
        public init() {}
    }

    /// How a read ended.
    public enum Ending: Sendable, Equatable {
        /// The document was read to its end and finished.
        case finished
        /// An observer threw ``Stop``.
        case stopped
    }

    private let decoder: ContentDecoder
    private let reader: BackupStreamReader
    /// Bytes fed so far, as stored (before decompression).
    public private(set) var storedBytes = 0

    /// Whether a refusal of a compressed file's content waits for the rest of the stream to be
    /// decoded, so that damage to the stream is named as such (see ``feed(_:)-(UnsafeRawBufferPointer)``).
    /// The gateway turns it off: a client's gzip bomb refused at its first byte must not be
    /// inflated to the limit only to name its CRC; the CLI and the worker read files the user
    /// or the gateway already has.
    public let checksDamageOnRefusal: Bool

    /// - Parameters:
    ///   - limits: the reader's depth and memory bounds.
    ///   - maxDecompressedBytes: refuse compressed content that inflates past this.
    ///   - spillDirectory: where the reader keeps long strings while their record is
    ///     observed (``LargeString``); nil: checked and counted, not kept.
    ///   - observers: called with each event, in this order.
    public init(
        limits: BackupReaderLimits = BackupReaderLimits(), maxDecompressedBytes: Int? = nil,
        spillDirectory: String? = nil, checksDamageOnRefusal: Bool = true, observers: [Observer]
    ) {
        self.checksDamageOnRefusal = checksDamageOnRefusal
        decoder = ContentDecoder(maxDecompressedBytes: maxDecompressedBytes)
        reader = BackupStreamReader(limits: limits, spillDirectory: spillDirectory) { event in
            for observer in observers { try observer(event) }
        }
    }

    /// The reader's refusal of a compressed file's content, held while the rest is decoded.
    private var heldRefusal: BackupReadError?

    /// Decodes and parses the next chunk of the file as stored.
    ///
    /// Damaged compressed bytes often decode to text that is not JSON before the frame's
    /// checksum (zstd) or CRC (gzip) at its end can say so: a byte flipped in a zstd file read
    /// "invalid number" where the user needs "the zstd data is damaged". So when the reader
    /// refuses a compressed file's content, the refusal is held and the rest of the file is
    /// only decoded, not parsed: ``finish()`` then throws the stream's damage if it has any,
    /// else the refusal. A plain file's refusal is thrown at once, as before.
    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        storedBytes += bytes.count
        guard heldRefusal == nil else {
            try decodingOnly { try decoder.decode(bytes) { _ in } }
            return
        }
        guard checksDamageOnRefusal else {
            try decoder.decode(bytes) { try reader.feed($0) }
            return
        }
        var refusal: BackupReadError?
        // The whole chunk is decoded even after a refusal, so that the decoder stays in step.
        do {
            try decoder.decode(bytes) { decoded in
                guard refusal == nil else { return }
                do { try reader.feed(decoded) } catch let error as BackupReadError { refusal = error }
            }
        } catch let error as CompressionError {
            if let refusal, case .tooLarge = error.reason { throw refusal }
            throw error
        }
        if let refusal {
            guard decoder.encoding == .gzip || decoder.encoding == .zstd else { throw refusal }
            heldRefusal = refusal
        }
    }

    /// Decodes and parses the next chunk of the file as stored.
    public func feed(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try feed($0) }
    }

    /// Ends the file: the decoder's last bytes, then the reader's end-of-document checks.
    public func finish() throws {
        if let heldRefusal {
            try decodingOnly { try decoder.finish { _ in } }
            throw heldRefusal
        }
        try decoder.finish { try reader.feed($0) }
        try reader.finish()
    }

    /// Runs a decode after a held refusal: the stream's damage replaces the refusal, but not
    /// the limit on inflating, which says nothing about damage.
    private func decodingOnly(_ decode: () throws -> Void) throws {
        do {
            try decode()
        } catch let error as CompressionError {
            if case .tooLarge = error.reason, let heldRefusal { throw heldRefusal }
            throw error
        }
    }

    /// Reads the file at `path` (``ChunkedFileReader``: open, read retried on `EINTR`, a
    /// directory refused) through the pipeline and finishes it. `onChunk` sees each chunk as
    /// stored and the bytes read so far, once the observers have seen its events (progress, a
    /// digest); not the chunk in which an observer stopped the read.
    @discardableResult
    public func read(
        path: String, chunkSize: Int = FileDescriptorIO.chunkSize,
        onChunk: ((UnsafeRawBufferPointer, Int) throws -> Void)? = nil
    ) throws -> Ending {
        try read(from: { body in try ChunkedFileReader.read(path: path, chunkSize: chunkSize, body) }, onChunk: onChunk)
    }

    /// The same from any reader that hands chunks to the closure it is given (a file still
    /// growing, read to its declared end).
    @discardableResult
    public func read(
        from reader: (_ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int,
        onChunk: ((UnsafeRawBufferPointer, Int) throws -> Void)? = nil
    ) throws -> Ending {
        do {
            _ = try reader { chunk in
                try feed(chunk)
                try onChunk?(chunk, storedBytes)
            }
            try finish()
        } catch is Stop {
            return .stopped
        }
        return .finished
    }
}
