#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A system call that failed: its `errno`, with the system's text for it.
/// Callers word the message for their reader ("cannot write temp file …: \(error.reason)").
public struct SystemCallError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `errno` the call left.
    public let code: Int32

    public init(code: Int32) {
        self.code = code
    }

    /// `errno` right now.
    public static var current: SystemCallError { SystemCallError(code: errno) }

    /// `strerror(code)`, e.g. "No space left on device".
    public var reason: String { String(cString: strerror(code)) }

    public var description: String { reason }
}
