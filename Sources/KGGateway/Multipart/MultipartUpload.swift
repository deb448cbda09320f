/// One file upload sent as `multipart/form-data`: exactly one file, in the part named `file`,
/// streamed to a callback as it arrives, plus small text fields collected in memory.
/// Memory stays flat whatever the file's size: at most `maxFields` × `maxFieldBytes` of fields,
/// one header block and the parser's few held-back bytes.
///
/// ```swift
/// guard let boundary = MultipartBoundary.parse(contentType: request.headers[.contentType] ?? "") else {
///     throw APIError.badRequest("expected a multipart/form-data upload")
/// }
/// var upload = MultipartUpload(boundary: boundary)
/// for try await buffer in request.body {
///     try buffer.withUnsafeReadableBytes { chunk in
///         try upload.feed(chunk) { bytes in try spool.write(bytes) }
///     }
/// }
/// let summary = try upload.finish()   // summary.fields["graph"], summary.fileBytes
/// ```
///
/// Text fields are only complete at `finish()`; a field sent after the file is accepted too.
struct MultipartUpload {
    /// What an upload contained, once it is complete.
    struct Summary: Equatable {
        /// Every part other than the file, decoded as UTF-8.
        var fields: [String: String]
        /// The file name the client sent, for logs and messages only. It is chosen by the
        /// client, may contain `/`, `..` or anything else, and must never be used as a path or
        /// a part of one.
        var fileName: String?
        /// The Content-Type the client gave the file part, if any.
        var fileContentType: String?
        /// How many bytes of file were passed to `onFileData`.
        var fileBytes: Int
    }

    /// Which part is the file, and how a field is told from a file.
    private struct Collector {
        let fileFieldName: String
        let maxFieldBytes: Int
        let maxFields: Int
        var fields: [String: String] = [:]
        var sawFile = false
        var fileName: String?
        var fileContentType: String?
        var fileBytes = 0
        var current: Current = .none
        /// The bytes so far of the field being read.
        var fieldValue: [UInt8] = []

        enum Current {
            case none
            case file
            case field(name: String)
        }

        mutating func handle(_ event: MultipartEvent, _ onFileData: (UnsafeRawBufferPointer) throws -> Void) throws {
            switch (event, current) {
            case (.partStart(let name, let filename, let contentType), _):
                if name == fileFieldName {
                    guard !sawFile else { throw MultipartError.extraFilePart(name: name) }
                    sawFile = true
                    fileName = filename
                    fileContentType = contentType
                    current = .file
                } else if filename != nil {
                    // A second file under another name: refuse rather than drop it silently.
                    throw MultipartError.extraFilePart(name: name)
                } else {
                    guard fields[name] == nil else { throw MultipartError.duplicateField(name: name) }
                    guard fields.count < maxFields else { throw MultipartError.tooManyFields(limit: maxFields) }
                    fieldValue.removeAll(keepingCapacity: true)
                    current = .field(name: name)
                }

            case (.partData(let bytes), .file):
                fileBytes += bytes.count
                try onFileData(bytes)

            case (.partData(let bytes), .field(let name)):
                guard fieldValue.count + bytes.count <= maxFieldBytes else {
                    throw MultipartError.fieldTooLarge(name: name, limit: maxFieldBytes)
                }
                fieldValue.append(contentsOf: bytes)

            case (.partEnd, .field(let name)):
                guard let text = String(validating: fieldValue, as: UTF8.self) else { throw MultipartError.fieldNotUTF8(name: name) }
                fields[name] = text
                current = .none

            case (.partEnd, _), (.partData, .none):
                current = .none
            }
        }
    }

    private var parser: MultipartStreamParser
    private var collector: Collector

    /// - Parameters:
    ///   - boundary: from `MultipartBoundary.parse(contentType:)`.
    ///   - fileFieldName: the part that holds the file.
    ///   - maxFieldBytes: the most bytes one text field may have.
    ///   - maxFields: the most text fields an upload may have.
    ///   - maxHeaderBytes: the most bytes one part's header block may have.
    init(
        boundary: [UInt8], fileFieldName: String = "file", maxFieldBytes: Int = 64 * 1024,
        maxFields: Int = 32, maxHeaderBytes: Int = 16 * 1024
    ) {
        parser = MultipartStreamParser(boundary: boundary, maxHeaderBytes: maxHeaderBytes)
        collector = Collector(fileFieldName: fileFieldName, maxFieldBytes: maxFieldBytes, maxFields: maxFields)
    }

    /// Parses the next chunk of the body; the file's bytes in it go to `onFileData`, in runs as
    /// long as the chunk allows. The buffer passed to `onFileData` is valid only during the call.
    mutating func feed(_ chunk: UnsafeRawBufferPointer, onFileData: (UnsafeRawBufferPointer) throws -> Void) throws {
        // `collector` is moved out of `self` so that the handler can mutate it while the parser
        // runs, without copying its fields.
        var collector = Collector(fileFieldName: "", maxFieldBytes: 0, maxFields: 0)
        swap(&collector, &self.collector)
        defer { swap(&collector, &self.collector) }
        try parser.feed(chunk) { event in try collector.handle(event, onFileData) }
    }

    /// Declares the body complete and returns what it contained. Throws if the closing boundary
    /// never came (`.endedEarly`) or no file part was sent (`.missingFilePart`).
    mutating func finish() throws -> Summary {
        try parser.finish()
        guard collector.sawFile else { throw MultipartError.missingFilePart(fieldName: collector.fileFieldName) }
        return Summary(
            fields: collector.fields, fileName: collector.fileName,
            fileContentType: collector.fileContentType, fileBytes: collector.fileBytes)
    }
}
