/// Bounds that keep a hostile or broken file from exhausting the stack or memory.
public struct BackupReaderLimits: Sendable, Equatable {
    /// How deep arrays and objects may nest, counting the document's own
    /// object as 1 (a record inside `data.concepts` is at depth 4).
    public var maxDepth: Int
    /// The most bytes of one value the reader holds in memory: one record, one
    /// metadata value or one key. Strings of a record longer than
    /// `maxInlineStringBytes` are streamed, not held, and do not count: a record's
    /// text may be of any size (PostgreSQL's own limit is 1 GB a value); its
    /// structure, numbers and short strings may not exceed this.
    public var maxValueBytes: Int
    /// Strings of a record longer than this are streamed (``LargeString``) instead of
    /// held. Ids, names and list elements must not be longer (they are held whole).
    public var maxInlineStringBytes: Int

    public init(maxDepth: Int = 256, maxValueBytes: Int = 64 << 20, maxInlineStringBytes: Int = 1 << 20) {
        self.maxDepth = maxDepth
        self.maxValueBytes = maxValueBytes
        self.maxInlineStringBytes = maxInlineStringBytes
    }
}
