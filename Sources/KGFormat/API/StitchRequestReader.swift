/// A push reader for the body of `POST /admin/stitch`:
/// `{"references"?: [{"concept_id", "label"?, "embedding"?}], "threshold"?, "dry_run"?, "checkpoint"?,
/// "keep_checkpoint"?, "no_wait"?}`. The references are handed out one at a time as they
/// complete (only one is held), checked on the way; the options are kept. Other keys are
/// ignored (as Foundation's decoder did). The gateway reads the request with it while it
/// streams the body to temp storage; the worker reads the stored file with it again.
///
/// ```swift
/// let reader = StitchRequestReader { reference in try insert(reference) }
/// try reader.feed(chunk)    // as often as needed
/// let options = try reader.finish()
/// ```
///
/// Every error is a ``StitchRequestError`` naming the field (`references[3].embedding[2]`).
public final class StitchRequestReader {
    /// The options of the request (everything but the references).
    public struct Options: Sendable, Equatable {
        public var threshold: Double?
        public var dryRun: Bool?
        public var checkpoint: Bool?
        public var keepCheckpoint: Bool?
        public var noWait: Bool?
        /// How many references the request holds.
        public var references = 0

        public init() {}
    }

    /// The largest single reference (a label and an embedding): far above any real one.
    public static let maxReferenceBytes = 16 << 20

    public private(set) var options = Options()
    /// Bytes fed so far.
    public var bytesConsumed: Int { reader.bytesConsumed }
    private var reader: BackupStreamReader!
    private var insideData = false

    /// - Parameter onReference: called with each reference, in order, once it is complete and valid.
    public init(onReference: @escaping (StitchReference) throws -> Void) {
        reader = BackupStreamReader(
            limits: BackupReaderLimits(maxDepth: 16, maxValueBytes: Self.maxReferenceBytes),
            topLevelArrays: ["references"]
        ) { [unowned self] event in
            try self.handle(event, onReference: onReference)
        }
    }

    public func feed(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try reader.feed(bytes)
        } catch let error as BackupReadError {
            throw StitchRequestError(error)
        }
    }

    /// Ends the body; throws when it is incomplete.
    @discardableResult
    public func finish() throws -> Options {
        do {
            try reader.finish()
        } catch let error as BackupReadError {
            throw StitchRequestError(error)
        }
        return options
    }

    private func handle(_ event: BackupEvent, onReference: (StitchReference) throws -> Void) throws {
        switch event {
        case .dataStart: insideData = true  // an unknown key that happens to be "data": ignored
        case .dataEnd: insideData = false
        case .metadata(let key, let value):
            try option(key, value)
        case .record(let section, let index, let value) where !insideData && section == "references":
            let reference = try StitchReference(json: value, field: "references[\(index)]")
            options.references += 1
            try onReference(reference)
        default:
            break
        }
    }

    private func option(_ key: String, _ value: JSONValue) throws {
        func flag() throws -> Bool? {
            if value.isNull { return nil }
            guard let flag = value.boolValue else { throw StitchRequestError("\(key) must be true or false, not \(value.kind)", field: key) }
            return flag
        }
        switch key {
        case "references":
            guard value.isNull else { throw StitchRequestError("references must be an array of objects, not \(value.kind)", field: key) }
        case "threshold":
            if value.isNull { options.threshold = nil; return }
            guard let number = value.doubleValue, number.isFinite else {
                throw StitchRequestError("threshold must be a number, not \(value.kind)", field: key)
            }
            options.threshold = number
        case "dry_run": options.dryRun = try flag()
        case "checkpoint": options.checkpoint = try flag()
        case "keep_checkpoint": options.keepCheckpoint = try flag()
        case "no_wait": options.noWait = try flag()
        default:
            break
        }
    }
}

/// A stitch request that cannot be used: what is wrong, and the field (`references[3].label`) when one is to blame.
public struct StitchRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public let field: String?

    public init(_ message: String, field: String?) {
        self.message = message
        self.field = field
    }

    init(_ error: BackupReadError) {
        switch error.kind {
        case .notAnObject:
            self.init("the body is not a JSON object (at byte \(error.offset))", field: nil)
        case .trailingData:
            self.init("unexpected data after the JSON object (at byte \(error.offset)); send exactly one object", field: nil)
        default:
            self.init(error.message, field: nil)
        }
    }

    public var description: String { message }
}

extension StitchReference {
    /// One element of `references`, checked: an object with a string `concept_id`, `label` a
    /// string or null, `embedding` an array of finite numbers or null; no U+0000 anywhere.
    public init(json value: JSONValue, field: String) throws {
        guard value.objectMembers != nil else {
            throw StitchRequestError("\(field) must be an object {\"concept_id\", \"label\"?, \"embedding\"?}, not \(value.kind)", field: field)
        }
        if let path = value.pathToNUL {
            throw StitchRequestError(
                "the field \(field)\(path) holds the character U+0000 (\\u0000), which is not allowed",
                field: field + path)
        }
        guard let id = value["concept_id"]?.stringValue else {
            let found = value["concept_id"].map { "not \($0.kind)" } ?? "missing"
            throw StitchRequestError("\(field).concept_id must be a string: \(found)", field: field + ".concept_id")
        }
        var label: String?
        if let text = value["label"], !text.isNull {
            guard let string = text.stringValue else {
                throw StitchRequestError("\(field).label must be a string or null, not \(text.kind)", field: field + ".label")
            }
            label = string
        }
        var embedding: [Double]?
        if let list = value["embedding"], !list.isNull {
            guard let elements = list.arrayValue else {
                throw StitchRequestError("\(field).embedding must be an array of numbers or null, not \(list.kind)", field: field + ".embedding")
            }
            var numbers: [Double] = []
            numbers.reserveCapacity(elements.count)
            for (i, element) in elements.enumerated() {
                guard let number = element.doubleValue, number.isFinite else {
                    throw StitchRequestError(
                        "\(field).embedding[\(i)] must be a finite number, not \(element.numberLiteral ?? "\(element.kind)")",
                        field: "\(field).embedding[\(i)]")
                }
                numbers.append(number)
            }
            embedding = numbers
        }
        self.init(conceptID: id, label: label, embedding: embedding)
    }
}
