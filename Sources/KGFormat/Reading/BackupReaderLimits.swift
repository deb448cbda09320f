/// Bounds that keep a hostile or broken file from exhausting the stack or memory.
public struct BackupReaderLimits: Sendable, Equatable {
    /// How deep arrays and objects may nest, counting the document's own
    /// object as 1 (a record inside `data.concepts` is at depth 4).
    public var maxDepth: Int
    /// The largest single value the reader will hold: one record, one
    /// metadata value or one key. The whole file may be far larger.
    public var maxValueBytes: Int

    public init(maxDepth: Int = 256, maxValueBytes: Int = 64 << 20) {
        self.maxDepth = maxDepth
        self.maxValueBytes = maxValueBytes
    }
}
