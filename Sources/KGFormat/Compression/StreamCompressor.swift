/// A streaming compressor the worker writes a backup through (gzip or zstd).
public protocol StreamCompressor: AnyObject {
    /// Compresses raw bytes, handing each piece of output to `sink`.
    func compress(_ chunk: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) rethrows
    /// Ends the stream, handing the rest of the output to `sink`.
    func finish(into sink: (UnsafeRawBufferPointer) throws -> Void) rethrows
}
