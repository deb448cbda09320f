import Foundation
import Logging

/// Wraps a handler and replaces every known secret (passwords from the
/// configured URLs, the first admin's password) with `***` in the message and
/// the metadata, whatever code logged it: a last line of defence behind the
/// URL redaction that startup messages and errors already do.
public struct RedactingLogHandler: LogHandler {
    private var base: any LogHandler
    private let secrets: [String]

    public init(base: any LogHandler, secrets: [String]) {
        self.base = base
        // Longest first, so that a secret containing another is replaced whole.
        self.secrets = secrets.filter { $0.count >= SecretRedaction.minimumLength }.sorted { $0.count > $1.count }
    }

    public var logLevel: Logger.Level {
        get { base.logLevel }
        set { base.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { base.metadata }
        set { base.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { base[metadataKey: key] }
        set { base[metadataKey: key] = newValue }
    }

    public func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?,
        source: String, file: String, function: String, line: UInt
    ) {
        guard !secrets.isEmpty else {
            base.log(level: level, message: message, metadata: metadata, source: source, file: file, function: function, line: line)
            return
        }
        // Handler metadata is printed too: redact it by passing a redacted copy explicitly.
        var merged = base.metadata
        if let metadata { merged.merge(metadata) { _, new in new } }
        let clean = merged.mapValues { redact($0) }
        base.log(
            level: level, message: "\(redact(message.description))", metadata: clean.isEmpty ? nil : clean,
            source: source, file: file, function: function, line: line)
    }

    func redact(_ text: String) -> String {
        var text = text
        for secret in secrets where text.contains(secret) {
            text = text.replacingOccurrences(of: secret, with: "***")
        }
        return text
    }

    func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let s): return .string(redact(s))
        case .stringConvertible(let c): return .string(redact(c.description))
        case .array(let a): return .array(a.map { redact($0) })
        case .dictionary(let d): return .dictionary(d.mapValues { redact($0) })
        }
    }
}
