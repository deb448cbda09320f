/// Converts backup records written at `targetVersion - 1` into the shape of
/// `targetVersion`. Converters are plain functions over records: no I/O, no
/// database, so they are tested as such and run on each record while a restore
/// streams.
public struct SchemaConverter: Sendable {
    /// The schema version this converter produces.
    public let targetVersion: Int
    /// What changed, for progress messages and the compatibility table.
    public let summary: String
    let convert: @Sendable (_ section: String, _ record: JSONValue) -> JSONValue

    public init(targetVersion: Int, summary: String, convert: @escaping @Sendable (String, JSONValue) -> JSONValue) {
        self.targetVersion = targetVersion
        self.summary = summary
        self.convert = convert
    }

    public func callAsFunction(_ section: String, _ record: JSONValue) -> JSONValue {
        convert(section, record)
    }
}
