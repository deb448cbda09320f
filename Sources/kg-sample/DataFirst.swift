import ArgumentParser
import Foundation
import KGFormat

extension SampleCommand {
    /// Rewrites a backup with its data first and its sections in the order that
    /// makes every reference come before what it names: relationships, instances,
    /// sources, concepts, then the rest, and the metadata after `data`. Streams:
    /// one reading pass per section, one record in memory at a time.
    struct DataFirst: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "data-first",
            abstract: "Rewrite a backup file with relationships before the concepts they name (benchmarks, tests).")

        @Argument(help: "The backup to read (plain JSON or gzip).")
        var input: String

        @Argument(help: "Where to write the rewritten backup (plain JSON).")
        var output: String

        static let order = ["relationships", "instances", "sources", "concepts", "vocabulary", "ontologies"]

        func run() throws {
            guard
                let out = FileHandle(forWritingAtPath: output)
                    ?? {
                        FileManager.default.createFile(atPath: output, contents: nil) ? FileHandle(forWritingAtPath: output) : nil
                    }()
            else { throw ValidationError("cannot write \(output)") }
            defer { try? out.close() }
            try out.truncate(atOffset: 0)
            var pending: [UInt8] = []
            func emit(_ text: String) throws {
                pending.append(contentsOf: text.utf8)
                if pending.count >= 1 << 20 {
                    out.write(Data(pending))
                    pending.removeAll(keepingCapacity: true)
                }
            }
            try emit("{\"data\": {")
            var firstSection = true
            var names: [String] = []
            var metadata: [(String, JSONValue)] = []
            // First pass: the metadata and the section names; later passes: one section each.
            try Self.read(input) { event in
                switch event {
                case .metadata(let key, let value): metadata.append((key, value))
                case .sectionStart(let name): names.append(name)
                default: break
                }
            }
            for name in Self.order.filter(names.contains) + names.filter({ !Self.order.contains($0) }) {
                try emit((firstSection ? "" : ",") + "\n\(JSONValue.string(name).jsonText): [")
                firstSection = false
                var first = true
                try Self.read(input) { event in
                    guard case .record(let section, _, let value) = event, section == name else { return }
                    try emit((first ? "\n" : ",\n") + value.jsonText)
                    first = false
                }
                try emit("]")
            }
            try emit("}")
            for (key, value) in metadata { try emit(",\n\(JSONValue.string(key).jsonText): \(value.jsonText)") }
            try emit("}\n")
            out.write(Data(pending))
        }

        static func read(_ path: String, _ body: @escaping (BackupEvent) throws -> Void) throws {
            do {
                try BackupPipeline(observers: [body]).read(path: path)
            } catch let error as FileReadError where error.step == .open {
                throw ValidationError("cannot read \(path)")
            }
        }
    }
}
