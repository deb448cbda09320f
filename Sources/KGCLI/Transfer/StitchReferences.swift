import Foundation
import KGAge
import KGFormat

/// Reads, from a local backup (plain, gzip or zstd, age-encrypted or not, streamed;
/// decrypted in memory only), the label and embedding of the concepts in `wanted`
/// only: the references `kg admin stitch --backup` sends.
enum StitchReferences {
    static func read(path: String, wanted: Set<String>, key: AgeDecryptor.Key? = nil) throws -> [StitchReference] {
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
        let decryptor = key.map { AgeDecryptor(key: $0) }
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
                try chunk.withUnsafeBytes { bytes in
                    if let decryptor {
                        try decryptor.decrypt(bytes) { plain in try decoder.decode(plain) { try reader.feed($0) } }
                    } else {
                        try decoder.decode(bytes) { try reader.feed($0) }
                    }
                }
            }
            try decryptor?.finish { plain in try decoder.decode(plain) { try reader.feed($0) } }
            try decoder.finish { try reader.feed($0) }
            try reader.finish()
        } catch let error as CLIError {
            throw error
        } catch let error as AgeError {
            throw CLIError("\(path): \(error.message)")
        } catch {
            throw CLIError("\(path) could not be read as a backup: \(error). `kg admin verify \(path)` says more")
        }
        return found
    }
}
