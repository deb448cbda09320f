/// Encoders for PostgreSQL's COPY text format and array literals.
public enum CopyText {
    /// Appends `value` escaped for one COPY text field (backslash, tab, newline, CR).
    public static func appendField(_ value: String, to out: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x09: out.append(0x5C); out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(0x5C); out.append(UInt8(ascii: "n"))
            case 0x0D: out.append(0x5C); out.append(UInt8(ascii: "r"))
            default: out.append(byte)
            }
        }
    }

    /// A text[] literal: every element double-quoted with `"` and `\` escaped.
    public static func textArray(_ items: [String]) -> String {
        textArrayWithNulls(items.map { Optional($0) })
    }

    /// A text[] literal with NULL elements (unquoted `NULL`; the string "NULL" is quoted).
    public static func textArrayWithNulls(_ items: [String?]) -> String {
        "{"
            + items.map { item in
                guard let item else { return "NULL" }
                return "\"" + item.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
            }.joined(separator: ",") + "}"
    }

    /// A double precision[] literal; Swift prints the shortest text that reads back exactly.
    public static func appendDoubleArray(_ values: [Double], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: value.description.utf8)
        }
        out.append(UInt8(ascii: "}"))
    }

    public static let null: [UInt8] = Array("\\N".utf8)
}
