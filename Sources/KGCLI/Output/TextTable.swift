import Foundation

/// A plain text table: columns padded to their widest cell, the last column left free.
enum TextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows.map { $0.map(clean) }
        var widths = Array(repeating: 0, count: header.count)
        for row in all {
            for (i, cell) in row.enumerated() where i < header.count - 1 { widths[i] = max(widths[i], cell.count) }
        }
        return all.map { row in
            row.enumerated().map { i, cell in
                i < header.count - 1 ? cell.padding(toLength: widths[i], withPad: " ", startingAt: 0) : cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// "2026-11-28T15:36:56.756394+00:00" → "2026-11-28 15:36:56" (the gateway's times are UTC).
    static func time(_ timestamp: String?) -> String {
        String((timestamp ?? "").prefix(19)).replacingOccurrences(of: "T", with: " ")
    }

    /// One line per entry: control characters (a hostile user name) become spaces.
    static func clean(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) ? " " : Character($0) })
    }
}
