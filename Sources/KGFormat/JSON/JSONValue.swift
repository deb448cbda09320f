/// A parsed JSON value that keeps everything the text said.
///
/// Numbers keep their literal text (`.number("0.1000000000000000055511151231257827")`, a ``JSONNumber``)
/// so no digit is lost to `Double`; objects keep their members in file order,
/// duplicate keys included.
///
/// ```swift
/// let value: JSONValue = ["concept_id": "c1", "embedding": [.number("0.25")]]
/// var out: [UInt8] = []
/// value.write(to: &out)   // {"concept_id":"c1","embedding":[0.25]}
/// value["concept_id"]?.stringValue   // "c1"
/// ```
public enum JSONValue: Sendable {
    /// `null`
    case null
    /// `true` or `false`
    case bool(Bool)
    /// The number's literal text exactly as written, valid per the JSON grammar.
    ///
    /// Build one from arbitrary text with ``init(numberLiteral:)`` so that
    /// ``write(to:)`` never emits something that is not JSON.
    case number(JSONNumber)
    /// A string, escapes decoded.
    case string(String)
    /// A string of a backup record too long to hold in memory, made by
    /// ``BackupStreamReader`` (never by parsing a value in memory): its length,
    /// whether it holds U+0000, and (when the reader kept them) its bytes.
    case largeString(LargeString)
    /// An array's elements in order.
    case array([JSONValue])
    /// A non-empty array of number literals only, as the reader makes it (an embedding):
    /// the same value as the `.array` of those `.number`s, held as one buffer of text.
    /// Code that does not care how an array is held reads ``arrayValue`` or
    /// ``expandingNumberList``.
    case numbers(JSONNumberList)
    /// Members in file order; a key may appear more than once.
    case object([(key: String, value: JSONValue)])
}
