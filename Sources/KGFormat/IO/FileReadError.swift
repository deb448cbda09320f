#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why ``ChunkedFileReader`` could not read a file: the step that failed and the system's reason.
public struct FileReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Step: Sendable, Equatable {
        /// `open(2)` failed.
        case open
        /// The path names a directory.
        case directory
        /// `read(2)` failed part way.
        case read
    }

    public let path: String
    public let step: Step
    /// The failed call's `errno` (`EISDIR` for a directory).
    public let error: SystemCallError

    public init(path: String, step: Step, error: SystemCallError) {
        self.path = path
        self.step = step
        self.error = error
    }

    /// Worded for a backup's reader (`kg admin verify`, the integrity report).
    public var message: String {
        switch (step, error.code) {
        case (.directory, _), (.read, EISDIR): return "\(path) is a directory, not a backup file"
        case (.open, ENOENT): return "no such file: \(path)"
        case (.open, EACCES): return "cannot read \(path): permission denied"
        case (.open, ENOTDIR): return "no such file: \(path) (a part of the path is not a directory)"
        case (.open, _): return "cannot open \(path): \(error.reason)"
        case (.read, _): return "cannot read \(path): \(error.reason)"
        }
    }

    public var description: String { message }
}
