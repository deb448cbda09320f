/// Reads the boundary of a `multipart/form-data` body from its `Content-Type` header.
///
/// ```swift
/// guard let boundary = MultipartBoundary.parse(contentType: "multipart/form-data; boundary=XyZ") else {
///     throw APIError.badRequest("expected a multipart/form-data upload")
/// }
/// var upload = MultipartUpload(boundary: boundary)
/// ```
enum MultipartBoundary {
    /// RFC 2046 §5.1.1: a boundary is 1 to 70 characters.
    static let maxLength = 70

    /// The boundary bytes (without the leading `--`), or nil when the header is not
    /// `multipart/form-data`, has no boundary, or the boundary breaks RFC 2046's rules
    /// (1–70 characters from its `bchars` set, not ending in a space).
    static func parse(contentType: String) -> [UInt8]? {
        let bytes = Array(contentType.utf8)
        var scanner = HeaderParameterScanner(bytes[...])
        guard let mediaType = scanner.readToken(), HeaderParameterScanner.matches(mediaType, "multipart/form-data") else {
            return nil
        }
        guard let parameters = scanner.readParameters() else { return nil }
        guard let boundary = parameters.first(where: { HeaderParameterScanner.matches($0.name, "boundary") })?.value else {
            return nil
        }
        return isValid(boundary) ? boundary : nil
    }

    /// RFC 2046 `bchars`: DIGIT / ALPHA / ' ( ) + _ , - . / : = ? and space, except as the last character.
    static func isValid(_ boundary: [UInt8]) -> Bool {
        guard (1...maxLength).contains(boundary.count), boundary.last != UInt8(ascii: " ") else { return false }
        return boundary.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
                return true
            default:
                return Array("'()+_,-./:=? ".utf8).contains(byte)
            }
        }
    }
}
