import KGDatabase
import KGFormat

/// A COPY row whose long strings (``LargeString``s, kept by the reader in its spill
/// file) are not in the row's bytes: each is streamed into COPY at its place, 256 KiB
/// at a time, so a value of any size costs the worker a piece, not the value.
///
/// Why this works for both COPY formats: text COPY needs no length (the string's
/// bytes are escaped piece by piece: backslash, tab, newline, carriage return);
/// binary COPY needs the field's length first, and the reader already knows it
/// (``LargeString/byteCount``, counted while decoding), so the encoder writes the
/// length and the bytes follow raw.
///
/// ```swift
/// var row: [UInt8] = [], inserts: [LargeValueRow.Insert] = []
/// try StagingRecordEncoder.append(section: "sources", index: 0, record: record, ordinal: 0, to: &row, inserts: &inserts)
/// try LargeValueRow.write(row, inserts, to: writer)
/// ```
enum LargeValueRow {
    struct Insert {
        /// The position in the row's bytes where the string goes.
        var at: Int
        let value: LargeString
        let escaping: Escaping
    }

    enum Escaping {
        /// As a COPY text field (`CopyText.appendField`'s rule).
        case copyText
        /// As it is (binary COPY, after its length).
        case raw
    }

    /// Sends `row` with each insert's string streamed at its place (inserts in row order).
    static func write(_ row: [UInt8], _ inserts: [Insert], to writer: CopyInWriter) throws {
        guard !inserts.isEmpty else {
            try writer.write(row)
            return
        }
        var from = 0
        var escaped: [UInt8] = []
        for insert in inserts {
            if from < insert.at { try writer.write(row[from..<insert.at]) }
            from = insert.at
            try insert.value.forEachPiece { piece in
                switch insert.escaping {
                case .raw:
                    try writer.write(piece)
                case .copyText:
                    escaped.removeAll(keepingCapacity: true)
                    appendCopyEscaped(piece, to: &escaped)
                    try writer.write(escaped)
                }
            }
        }
        if from < row.count { try writer.write(row[from...]) }
    }

    /// `CopyText.appendField` for raw bytes (UTF-8 sequences split across pieces are
    /// fine: only ASCII bytes are escaped).
    static func appendCopyEscaped(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.reserveCapacity(out.count + bytes.count + bytes.count / 8)
        var runStart = 0
        for i in 0..<bytes.count {
            let b = bytes[i]
            guard b == 0x5C || b == 0x09 || b == 0x0A || b == 0x0D else { continue }
            if runStart < i { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<i])) }
            runStart = i + 1
            out.append(0x5C)
            switch b {
            case 0x5C: out.append(0x5C)
            case 0x09: out.append(UInt8(ascii: "t"))
            case 0x0A: out.append(UInt8(ascii: "n"))
            default: out.append(UInt8(ascii: "r"))
            }
        }
        if runStart < bytes.count { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart...])) }
    }
}
