/// What ``BackupStreamReader`` found, in file order.
///
/// A well-formed file produces, in any key order: `.metadata` for each
/// top-level key other than `data`; `.dataStart`; for each member of `data`
/// either `.sectionStart`, one `.record` per element and `.sectionEnd`, or
/// `.sectionNotArray`; `.dataEnd`; and finally `.end`.
public enum BackupEvent: Sendable, Equatable {
    /// A top-level key other than `data`, with its whole value.
    case metadata(key: String, value: JSONValue)
    /// `data` is an object; its members follow.
    case dataStart
    /// `data` is not an object (the value itself is skipped).
    case dataNotObject(found: JSONKind)
    /// A member of `data` whose value is an array; its records follow.
    case sectionStart(name: String)
    /// One element of a section's array; `index` counts from 0 within the section.
    case record(section: String, index: Int, value: JSONValue)
    /// The end of a section's array and how many records it held.
    case sectionEnd(name: String, count: Int)
    /// A member of `data` whose value is not an array.
    case sectionNotArray(name: String, found: JSONKind)
    /// The end of the `data` object.
    case dataEnd
    /// The document is complete and nothing but whitespace followed it.
    case end
}
