import Foundation
import KGFormat

/// Reads, from a local backup (plain or gzip, streamed), the label and embedding
/// of the concepts in `wanted` only: the references `kg admin stitch --backup` sends.
enum StitchReferences {
    static func read(path: String, wanted: Set<String>) throws -> [StitchReference] {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw CLIError("cannot read \(path)") }
        defer { try? handle.close() }
        var found: [StitchReference] = []
        let reader = BackupStreamReader { event in
            guard case .record(let section, _, let value) = event, section == "concepts",
                  let id = value["concept_id"]?.stringValue, wanted.contains(id) else { return }
            let embedding = value["embedding"]?.arrayValue?.compactMap(\.doubleValue)
            found.append(StitchReference(conceptID: id, label: value["label"]?.stringValue,
                                         embedding: embedding?.isEmpty == false ? embedding : nil))
        }
        let decoder = ContentDecoder()
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                try chunk.withUnsafeBytes { bytes in try decoder.decode(bytes) { try reader.feed($0) } }
            }
            try decoder.finish { try reader.feed($0) }
            try reader.finish()
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(path) could not be read as a backup: \(error). `kg admin verify \(path)` says more")
        }
        return found
    }
}
