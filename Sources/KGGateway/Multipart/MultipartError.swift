/// Why a multipart upload was refused. `description` is written for the person who sent it:
/// it names the cause and what to do next. The gateway answers all of these with 400.
///
/// ```swift
/// do { try upload.feed(chunk) { try file.write($0) } }
/// catch let error as MultipartError { throw APIError.badRequest("bad upload", detail: error.description) }
/// ```
enum MultipartError: Error, Equatable, CustomStringConvertible {
    /// The body ended without ever containing `--boundary`.
    case boundaryNotFound
    /// The body ended before the closing `--boundary--`.
    case endedEarly
    /// A boundary line was followed by something other than `--` or CRLF.
    case malformedBoundaryLine
    /// A part header line was not `Name: value` ending in CRLF.
    case malformedHeader(line: String)
    /// A part's header block exceeded the limit.
    case headerTooLarge(limit: Int)
    /// A part has no `Content-Disposition` header.
    case missingContentDisposition
    /// A part's `Content-Disposition` is not `form-data` or cannot be parsed.
    case malformedContentDisposition(String)
    /// A part's `Content-Disposition` has no `name` parameter.
    case missingPartName
    /// A text field is longer than the limit.
    case fieldTooLarge(name: String, limit: Int)
    /// A text field is not valid UTF-8.
    case fieldNotUTF8(name: String)
    /// The same text field was sent twice.
    case duplicateField(name: String)
    /// More text fields than the limit.
    case tooManyFields(limit: Int)
    /// No part named `file` (the upload's file field) was sent.
    case missingFilePart(fieldName: String)
    /// A second file: a second part named `file`, or a part with a filename under another name.
    case extraFilePart(name: String)

    var description: String {
        switch self {
        case .boundaryNotFound:
            return
                "the upload has no multipart boundary: the body never contains the boundary named in its Content-Type header; send the file as multipart/form-data (curl -F file=@PATH)"
        case .endedEarly:
            return "the upload ended early: the body stopped before its closing boundary, so the transfer was probably cut off; send the file again"
        case .malformedBoundaryLine:
            return
                "the upload is not valid multipart/form-data: a boundary line is followed by something other than a line break or '--'; check the client that built the request"
        case .malformedHeader(let line):
            return
                "the upload has a malformed part header (\(line.prefix(80).debugDescription)): each header must be 'Name: value' on its own CRLF-terminated line"
        case .headerTooLarge(let limit):
            return "the upload has a part whose headers exceed \(limit) bytes; send shorter part headers (a shorter file name)"
        case .missingContentDisposition:
            return
                "the upload has a part without a Content-Disposition header; every part of a multipart/form-data body needs 'Content-Disposition: form-data; name=\"…\"'"
        case .malformedContentDisposition(let value):
            return
                "the upload has a part with an unusable Content-Disposition (\(value.prefix(80).debugDescription)); expected 'form-data; name=\"…\"'"
        case .missingPartName:
            return "the upload has a part without a name: its Content-Disposition needs a name=\"…\" parameter"
        case .fieldTooLarge(let name, let limit):
            return "the form field '\(name)' is longer than \(limit) bytes; only the part named 'file' may be large: send big content as the file"
        case .fieldNotUTF8(let name):
            return "the form field '\(name)' is not valid UTF-8 text; send text fields as UTF-8"
        case .duplicateField(let name):
            return "the form field '\(name)' was sent twice; send each field once"
        case .tooManyFields(let limit):
            return "the upload has more than \(limit) form fields; send only the fields this endpoint takes"
        case .missingFilePart(let fieldName):
            return "the upload has no file: send it as the form part named '\(fieldName)' (curl -F \(fieldName)=@PATH)"
        case .extraFilePart(let name):
            return "the upload has more than one file (another in part '\(name)'); this endpoint takes exactly one file, in one part"
        }
    }
}
