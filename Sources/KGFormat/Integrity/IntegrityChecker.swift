/// Checks a backup against the integrity rules of BACKUP_FORMAT.md while it streams.
///
/// Two ways to use it:
///
/// ```swift
/// // 1. Feed it the file's bytes (gzip or not); it reads and checks.
/// let checker = IntegrityChecker(maxDecompressedBytes: 16 << 30)
/// checker.feed(chunk)                 // as often as needed
/// let report = checker.finish()
///
/// // 2. Let it observe a ``BackupPipeline`` that something else drives,
/// //    e.g. a restore that loads records and checks them in one pass.
/// let checker = IntegrityChecker()
/// let pipeline = BackupPipeline(observers: [checker.observe, load])
/// do { try pipeline.read(path: path) } catch { checker.observeFailure(error) }
/// let report = checker.makeReport()
/// ```
///
/// Reading problems (not JSON, truncated, damaged gzip) never throw: they
/// become `format` errors in the report. Not thread-safe.
public final class IntegrityChecker {
    /// Reader bounds used when the checker reads bytes itself.
    public let limits: BackupReaderLimits
    /// The gzip inflation limit used when the checker reads bytes itself.
    public let maxDecompressedBytes: Int?
    /// Whether damage to a compressed stream is named instead of the JSON it decoded to
    /// (``BackupPipeline/checksDamageOnRefusal``); off in the gateway.
    public let checksDamageOnRefusal: Bool

    private var rules: IntegrityRules
    private var failed = false
    private var pipeline: BackupPipeline?
    /// What the file said before its `data`, when asked for (`peeksHeader`): a gateway starts a
    /// pipelined restore once it is complete.
    public let headerPeek: BackupHeaderPeek?

    /// The memory the id checks (duplicates, references) use before they spill
    /// to temp storage: see ``IDLedger``.
    public static let defaultIDMemoryBytes = IDLedger.defaultBudgetBytes
    /// Where the id checks spill unless told: `TMPDIR`, or `/tmp`.
    public static var defaultTempDirectory: String { IntegrityRules.systemTempDirectory }

    /// - Parameters:
    ///   - limits: bounds for the reader when the checker reads bytes itself.
    ///   - maxDecompressedBytes: refuse gzip content that inflates past this.
    ///   - idMemoryBytes: memory for the id checks; past it they continue in a temp
    ///     file in `tempDirectory` (unlinked as soon as it is created), with the same answers.
    ///   - tempDirectory: where that temp file goes (default: `TMPDIR`, or `/tmp`).
    public init(
        limits: BackupReaderLimits = BackupReaderLimits(), maxDecompressedBytes: Int? = nil,
        idMemoryBytes: Int = IntegrityChecker.defaultIDMemoryBytes, tempDirectory: String? = nil,
        checksDamageOnRefusal: Bool = true, peeksHeader: Bool = false
    ) {
        self.checksDamageOnRefusal = checksDamageOnRefusal
        self.headerPeek = peeksHeader ? BackupHeaderPeek(stops: false) : nil
        self.limits = limits
        self.maxDecompressedBytes = maxDecompressedBytes
        self.rules = IntegrityRules(idMemoryBytes: idMemoryBytes, tempDirectory: tempDirectory ?? IntegrityRules.systemTempDirectory)
    }

    // MARK: - Fed with bytes

    /// Reads and checks the next chunk of the file. After a reading error,
    /// further chunks are ignored (the report says what went wrong).
    public func feed(_ bytes: UnsafeRawBufferPointer) {
        guard !failed else { return }
        do {
            try ownPipeline().feed(bytes)
        } catch {
            observeFailure(error)
        }
    }

    /// Reads and checks the next chunk of the file.
    public func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Ends the file and returns the report.
    public func finish() -> IntegrityReport {
        if !failed {
            do {
                try ownPipeline().finish()
            } catch {
                observeFailure(error)
            }
        }
        return makeReport()
    }

    private func ownPipeline() -> BackupPipeline {
        if let pipeline { return pipeline }
        // unowned: the checker owns the pipeline, so the pipeline must not own the checker.
        let created = BackupPipeline(
            limits: limits, maxDecompressedBytes: maxDecompressedBytes,
            checksDamageOnRefusal: checksDamageOnRefusal, observers: [{ [unowned self] event in self.observe(event) }])
        pipeline = created
        return created
    }

    // MARK: - Watching another reader

    /// Applies the rules to one event of a reader driven elsewhere.
    public func observe(_ event: BackupEvent) {
        rules.observe(event)
        if let headerPeek { try? headerPeek.observe(event) }
    }

    /// Records that the document could not be read to its end; the report
    /// will carry it as a `format` error.
    public func observeFailure(_ error: Error) {
        failed = true
        let message: String
        switch error {
        case let error as BackupReadError: message = error.message
        case let error as CompressionError: message = error.message
        case let error as FileReadError: message = error.message
        default: message = String(describing: error)
        }
        rules.fail(message)
    }

    /// The report on everything observed so far. Call it after `.end` (or a
    /// failure); before that, the report says the document was not read to its end.
    public func makeReport() -> IntegrityReport {
        rules.report()
    }
}
