import KGFormat

/// JSON text written in a fixed key order (JSONSerialization's dictionaries
/// have none): each `--json` object is built from its keys in the documented order.
enum JSONText {
    static func string(_ s: String) -> String {
        var out: [UInt8] = []
        JSONEscaping.appendQuoted(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
