import Foundation

/// A `Content-Range: bytes FIRST-LAST/LENGTH` header of a 206 response (RFC 9110
/// §14.4); `LENGTH` is `*` (nil) while the representation's length is not known
/// (a backup the worker is still writing).
public struct ContentRange: Sendable, Equatable {
    public let first: Int64
    public let last: Int64
    public let length: Int64?

    public init?(_ header: String) {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.hasPrefix("bytes ") else { return nil }
        let parts = value.dropFirst("bytes ".count).split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let bounds = parts[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let first = Int64(bounds[0]), let last = Int64(bounds[1]), first >= 0, last >= first else { return nil }
        if parts[1] == "*" {
            length = nil
        } else {
            guard let length = Int64(parts[1]), length > last else { return nil }
            self.length = length
        }
        self.first = first
        self.last = last
    }
}
