import Foundation

/// A fresh folder under the system's temp directory for one test, removed by `remove()`
/// (call it from `tearDown`).
///
/// ```swift
/// folder = try TemporaryFolder("kgformat")
/// let path = try folder.write("b.json", bytes)
/// ```
public final class TemporaryFolder {
    public let url: URL
    public var path: String { url.path }

    public init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` in the folder.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `bytes` to `name` in the folder; returns its path.
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: url.appendingPathComponent(name))
        return path(name)
    }

    public func remove() {
        try? FileManager.default.removeItem(at: url)
    }
}
