/// The headers of one part that a form needs, read from the part's header block.
///
/// ```swift
/// let block = Array("Content-Disposition: form-data; name=\"file\"; filename=\"g.kgb\"\r\n".utf8)
/// let headers = try MultipartPartHeaders(headerBlock: block[...])
/// // headers.name == "file", headers.filename == "g.kgb", headers.contentType == nil
/// ```
struct MultipartPartHeaders: Equatable {
    var name: String
    /// As the client sent it: never a safe path.
    var filename: String?
    var contentType: String?

    init(name: String, filename: String? = nil, contentType: String? = nil) {
        self.name = name
        self.filename = filename
        self.contentType = contentType
    }

    /// Parses header lines, each ending in CRLF, without the blank line that ends the block.
    /// Header names are case-insensitive; a line starting with a space or tab continues the
    /// previous one (obsolete folding); headers other than Content-Disposition and
    /// Content-Type are ignored. `filename*` (RFC 5987) is ignored, as RFC 7578 §4.2 advises.
    init(headerBlock: ArraySlice<UInt8>) throws {
        var disposition: [UInt8]?
        var contentType: [UInt8]?
        // Which of the two the previous line set, so that a folded line can extend it.
        enum Known { case disposition, contentType }
        var previous: Known?

        var lineStart = headerBlock.startIndex
        while lineStart < headerBlock.endIndex {
            guard let lf = headerBlock[lineStart...].firstIndex(of: UInt8(ascii: "\n")),
                lf > lineStart, headerBlock[lf - 1] == UInt8(ascii: "\r")
            else {
                throw MultipartError.malformedHeader(line: String(decoding: headerBlock[lineStart...], as: UTF8.self))
            }
            let line = headerBlock[lineStart..<(lf - 1)]
            lineStart = lf + 1

            if let first = line.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                switch previous {
                case .disposition: disposition! += [UInt8(ascii: " ")] + Self.trimmed(line)
                case .contentType: contentType! += [UInt8(ascii: " ")] + Self.trimmed(line)
                case nil: throw MultipartError.malformedHeader(line: String(decoding: line, as: UTF8.self))
                }
                continue
            }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex,
                !line[..<colon].contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            else {
                throw MultipartError.malformedHeader(line: String(decoding: line, as: UTF8.self))
            }
            let value = Array(Self.trimmed(line[(colon + 1)...]))
            previous = nil
            let name = line[..<colon]
            if HeaderParameterScanner.matches(name, "content-disposition"), disposition == nil {
                disposition = value
                previous = .disposition
            } else if HeaderParameterScanner.matches(name, "content-type"), contentType == nil {
                contentType = value
                previous = .contentType
            }
        }

        guard let disposition else { throw MultipartError.missingContentDisposition }
        let dispositionText = String(decoding: disposition, as: UTF8.self)
        var scanner = HeaderParameterScanner(disposition[...])
        guard let type = scanner.readToken(), HeaderParameterScanner.matches(type, "form-data"),
            let parameters = scanner.readParameters()
        else {
            throw MultipartError.malformedContentDisposition(dispositionText)
        }
        func parameter(_ key: String) -> [UInt8]? {
            parameters.first(where: { HeaderParameterScanner.matches($0.name, key) })?.value
        }
        guard let name = parameter("name") else { throw MultipartError.missingPartName }
        self.name = String(decoding: name, as: UTF8.self)
        self.filename = parameter("filename").map { String(decoding: $0, as: UTF8.self) }
        self.contentType = contentType.map { String(decoding: $0, as: UTF8.self) }
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { slice = slice.dropFirst() }
        while let last = slice.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") { slice = slice.dropLast() }
        return slice
    }
}
