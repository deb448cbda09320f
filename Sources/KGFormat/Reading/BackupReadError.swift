/// Why a backup document could not be read, with where it happened.
///
/// `message` is written for people ("the document ends early (truncated) …");
/// `offset` is the byte position in the decompressed document.
public struct BackupReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, Codable {
        /// The bytes are not JSON (a syntax error).
        case notJSON = "not_json"
        /// The document is JSON but its top level is not an object.
        case notAnObject = "not_an_object"
        /// The document ends before it is complete.
        case truncated
        /// A string holds bytes that are not UTF-8, or an escape that names no character.
        case invalidUTF8 = "invalid_utf8"
        /// Arrays and objects nest deeper than the limit.
        case tooDeep = "too_deep"
        /// One value (a record, a metadata value, a key) is larger than the limit.
        case valueTooLarge = "value_too_large"
        /// Something other than whitespace follows the document.
        case trailingData = "trailing_data"
    }

    public let kind: Kind
    /// What went wrong, for people; includes the byte offset.
    public let message: String
    /// `message` without the offset.
    public let detail: String
    /// The byte offset in the (decompressed) document where the problem was found.
    public let offset: Int

    public init(_ kind: Kind, _ detail: String, offset: Int) {
        self.kind = kind
        self.offset = offset
        self.detail = detail
        self.message = "\(detail) (at byte \(offset))"
    }

    public var description: String { message }

    /// The same error with where it happened said first ("in data.concepts[4]: …").
    func inContext(_ context: String) -> BackupReadError {
        BackupReadError(kind, kind == .notJSON ? "not valid JSON \(context): \(detail)" : "\(context): \(detail)", offset: offset)
    }
}
