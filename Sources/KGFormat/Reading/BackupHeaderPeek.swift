/// An observer (``BackupPipeline``) that keeps the metadata a backup gives before its `data`:
/// what ``BackupHeader`` and the worker's restore plan are made from.
///
/// ```swift
/// let peek = BackupHeaderPeek()
/// try BackupPipeline(observers: [peek.observe]).read(path: path)   // stops where `data` begins
/// peek.header?.schemaVersion
/// ```
public final class BackupHeaderPeek {
    /// The top-level values seen before `data`, by key.
    public private(set) var metadata: [String: JSONValue] = [:]
    /// Whether `data` began (the metadata before it is then complete).
    public private(set) var sawData = false
    /// Whether the peek ends the read (``BackupPipeline/Stop``) where `data` begins,
    /// or at `.end`; when false it keeps quiet and lets the read go on.
    public let stops: Bool

    public init(stops: Bool = true) {
        self.stops = stops
    }

    public func observe(_ event: BackupEvent) throws {
        guard !sawData else { return }
        switch event {
        case .metadata(let key, let value): metadata[key] = value
        case .dataStart, .dataNotObject:
            sawData = true
            if stops { throw BackupPipeline.Stop() }
        case .end:
            if stops { throw BackupPipeline.Stop() }
        default: break
        }
    }

    /// What the metadata says; nil unless it has a `version` or a `type`.
    public var header: BackupHeader? {
        guard metadata["version"] != nil || metadata["type"] != nil else { return nil }
        return BackupHeader(
            type: metadata["type"]?.stringValue, ontology: metadata["ontology"]?.stringValue,
            schemaVersion: metadata["schema_version"]?.intValue, timestamp: metadata["timestamp"]?.stringValue,
            producer: metadata["producer"]?["name"]?.stringValue, sawData: sawData)
    }
}
