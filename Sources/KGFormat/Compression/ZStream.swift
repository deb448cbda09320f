import CZlib

/// A heap-allocated `z_stream`: zlib keeps a pointer back to the stream and
/// rejects calls made through a copy, so its address must never change.
final class ZStream {
    let pointer: UnsafeMutablePointer<z_stream>

    init() {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: z_stream())
    }

    deinit {
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }

    var errorMessage: String {
        pointer.pointee.msg.map { String(cString: $0) } ?? "no detail"
    }
}
