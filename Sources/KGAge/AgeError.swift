/// Why an age file could not be written or read; every message says what to do next.
public struct AgeError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// Not an age file, or a header that breaks the format.
        case malformed
        /// No identity (or passphrase) opens any stanza.
        case noMatch
        /// The header's MAC or a payload chunk does not authenticate: changed bytes.
        case tampered
        /// The file ends before its last chunk.
        case truncated
        /// A key, a recipient or an identity file that cannot be used.
        case badKey
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}
