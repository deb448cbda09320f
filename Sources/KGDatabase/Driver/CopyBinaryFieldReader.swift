/// Splits a binary `COPY … TO STDOUT (FORMAT binary)` stream of one-column rows
/// into the column's raw bytes, whatever the chunk boundaries.
///
/// The backup writer lets PostgreSQL build each record's JSON text
/// (`json_build_object(…)::text`) and copies it out in binary format, so the
/// bytes arrive unescaped and go to the file as they are.
public struct CopyBinaryFieldReader {
    private enum State { case header, tupleCount, fieldLength, field(Int), done }
    private var state: State = .header
    private var pending: [UInt8] = []
    public private(set) var rows = 0

    private static let signature: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00]

    public init() {}

    /// Feeds a chunk; calls `onField` with each row's single column (nil for SQL NULL).
    public mutating func feed(_ chunk: UnsafeRawBufferPointer, onField: (UnsafeRawBufferPointer?) throws -> Void) throws {
        var input = chunk[...]
        while true {
            switch state {
            case .done:
                return
            case .header:
                // signature (11) + flags (4) + extension length (4); extensions are not used by PostgreSQL 15.
                guard take(19, from: &input) else { return }
                guard Array(pending[0..<11]) == Self.signature else {
                    throw PGError("COPY output is not in binary format")
                }
                pending.removeAll(keepingCapacity: true)
                state = .tupleCount
            case .tupleCount:
                guard take(2, from: &input) else { return }
                let count = Int16(bitPattern: UInt16(pending[0]) << 8 | UInt16(pending[1]))
                pending.removeAll(keepingCapacity: true)
                if count == -1 {
                    state = .done
                } else if count == 1 {
                    state = .fieldLength
                } else {
                    throw PGError("COPY row has \(count) columns; expected 1")
                }
            case .fieldLength:
                guard take(4, from: &input) else { return }
                let length = Int32(bitPattern: UInt32(pending[0]) << 24 | UInt32(pending[1]) << 16 | UInt32(pending[2]) << 8 | UInt32(pending[3]))
                pending.removeAll(keepingCapacity: true)
                if length < 0 {
                    rows += 1
                    try onField(nil)
                    state = .tupleCount
                } else {
                    state = .field(Int(length))
                }
            case .field(let length):
                if pending.isEmpty, input.count >= length {
                    // Fast path: the whole field is inside this chunk.
                    let start = input.startIndex
                    rows += 1
                    try onField(UnsafeRawBufferPointer(rebasing: input[start..<(start + length)]))
                    input = input[(start + length)...]
                    state = .tupleCount
                } else {
                    guard take(length, from: &input) else { return }
                    rows += 1
                    try pending.withUnsafeBytes { try onField($0) }
                    pending.removeAll(keepingCapacity: true)
                    state = .tupleCount
                }
            }
        }
    }

    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Moves bytes into `pending` until it holds `count`; false when the chunk ran out first.
    private mutating func take(_ count: Int, from input: inout Slice<UnsafeRawBufferPointer>) -> Bool {
        let need = count - pending.count
        if need <= 0 { return true }
        let n = min(need, input.count)
        pending.append(contentsOf: input.prefix(n))
        input = input.dropFirst(n)
        return pending.count == count
    }
}
