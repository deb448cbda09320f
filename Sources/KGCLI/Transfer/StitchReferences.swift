import Foundation
import KGAge
import KGFormat

/// Reads, from a local backup (plain, gzip or zstd, age-encrypted or not, streamed;
/// decrypted in memory only), the label and embedding of the concepts in `wanted`
/// only: the references `kg admin stitch --backup` sends.
enum StitchReferences {
    static func read(path: String, wanted: Set<String>, key: AgeDecryptor.Key? = nil) throws -> [StitchReference] {
        var found: [StitchReference] = []
        let pipeline = BackupPipeline(observers: [
            { event in
                guard case .record(let section, _, let value) = event, section == "concepts",
                    let id = value["concept_id"]?.stringValue, wanted.contains(id)
                else { return }
                let embedding = value["embedding"]?.arrayValue?.compactMap(\.doubleValue)
                found.append(
                    StitchReference(
                        conceptID: id, label: value["label"]?.stringValue,
                        embedding: embedding?.isEmpty == false ? embedding : nil))
            }
        ])
        let decryptor = key.map { AgeDecryptor(key: $0) }
        do {
            if let decryptor {
                try ChunkedFileReader.read(path: path) { bytes in try decryptor.decrypt(bytes) { try pipeline.feed($0) } }
                try decryptor.finish { try pipeline.feed($0) }
                try pipeline.finish()
            } else {
                try pipeline.read(path: path)
            }
        } catch let error as FileReadError where error.step == .open {
            throw CLIError("cannot read \(path)")
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
