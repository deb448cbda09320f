import CRabbitMQ
import Foundation

/// C memory that must outlive one rabbitmq-c call: strings, bytes and field tables.
///
/// Use with `defer { arena.free() }` right after creating it; the `defer` also keeps the arena
/// alive until the call is done (a plain local could be released after its last use).
final class CArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    func cString(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        allocations.append(UnsafeMutableRawPointer(p))
        return UnsafePointer(p)
    }

    func bytes(_ s: String) -> amqp_bytes_t {
        bytes(Array(s.utf8))
    }

    func bytes(_ b: [UInt8]) -> amqp_bytes_t {
        guard !b.isEmpty else { return amqp_bytes_t(len: 0, bytes: nil) }
        let p = malloc(b.count)!
        allocations.append(p)
        b.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return amqp_bytes_t(len: b.count, bytes: p)
    }

    func table(_ fields: [String: AMQPFieldValue]) -> amqp_table_t {
        guard !fields.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let entries = UnsafeMutablePointer<amqp_table_entry_t>.allocate(capacity: fields.count)
        allocations.append(UnsafeMutableRawPointer(entries))
        for (i, (key, value)) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
            var field = amqp_field_value_t()
            switch value {
            case .string(let s):
                field.kind = UInt8(AMQP_FIELD_KIND_UTF8.rawValue)
                field.value.bytes = bytes(s)
            case .int(let n):
                field.kind = UInt8(AMQP_FIELD_KIND_I64.rawValue)
                field.value.i64 = n
            case .bool(let b):
                field.kind = UInt8(AMQP_FIELD_KIND_BOOLEAN.rawValue)
                field.value.boolean = b ? 1 : 0
            }
            entries[i] = amqp_table_entry_t(key: bytes(key), value: field)
        }
        return amqp_table_t(num_entries: Int32(fields.count), entries: entries)
    }

    func free() {
        for p in allocations { Foundation.free(p) }
        allocations.removeAll()
    }
}

extension amqp_bytes_t {
    /// Copies the bytes into Swift memory.
    var array: [UInt8] {
        guard len > 0, let bytes else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: len))
    }

    /// Copies the bytes into a String (invalid UTF-8 is repaired).
    var string: String {
        String(decoding: array, as: UTF8.self)
    }
}

extension amqp_table_t {
    /// The string-valued entries (UTF-8 strings and byte arrays), copied.
    var stringEntries: [String: String] {
        var out: [String: String] = [:]
        guard num_entries > 0, let entries else { return out }
        for i in 0..<Int(num_entries) {
            let entry = entries[i]
            let kind = UInt32(entry.value.kind)
            if kind == AMQP_FIELD_KIND_UTF8.rawValue || kind == AMQP_FIELD_KIND_BYTES.rawValue {
                out[entry.key.string] = entry.value.value.bytes.string
            }
        }
        return out
    }

    /// An integer entry of any width, or nil.
    func integer(_ key: String) -> Int? {
        guard num_entries > 0, let entries else { return nil }
        for i in 0..<Int(num_entries) where entries[i].key.string == key {
            let v = entries[i].value
            switch UInt32(v.kind) {
            case AMQP_FIELD_KIND_I8.rawValue: return Int(v.value.i8)
            case AMQP_FIELD_KIND_U8.rawValue: return Int(v.value.u8)
            case AMQP_FIELD_KIND_I16.rawValue: return Int(v.value.i16)
            case AMQP_FIELD_KIND_U16.rawValue: return Int(v.value.u16)
            case AMQP_FIELD_KIND_I32.rawValue: return Int(v.value.i32)
            case AMQP_FIELD_KIND_U32.rawValue: return Int(v.value.u32)
            case AMQP_FIELD_KIND_I64.rawValue: return Int(v.value.i64)
            case AMQP_FIELD_KIND_U64.rawValue: return Int(clamping: v.value.u64)
            default: return nil
            }
        }
        return nil
    }
}

func makeTimeval(_ seconds: Double) -> timeval {
    let s = max(0, seconds)
    let whole = s.rounded(.down)
    return timeval(tv_sec: Int(whole), tv_usec: Int((s - whole) * 1_000_000))
}

/// Monotonic seconds, for deadlines.
func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func amqpErrorString(_ status: Int32) -> String {
    String(cString: amqp_error_string2(status))
}
