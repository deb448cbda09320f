import Foundation
import KGFormat

/// A small backup file read whole, for assertions (tests only; the product streams).
struct BackupFile {
    let object: [String: Any]
    let raw: Data

    init(path: String) throws {
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        if data.starts(with: ContentDecoder.gzipMagic) || data.starts(with: ContentDecoder.zstdMagic) {
            let decoder = ContentDecoder()
            data = Data(try decoder.decode(Array(data)) + (try decoder.finish()))
        }
        raw = data
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw StackError("\(path) is not a JSON object")
        }
        self.object = object
    }

    /// The decompressed bytes with the header's `"timestamp"` value blanked (the one
    /// thing two backups of the same graph may differ in).
    var rawWithoutTimestamp: Data {
        let text = String(decoding: raw, as: UTF8.self)
        guard let range = text.range(of: #""timestamp":"[^"]*""#, options: .regularExpression) else { return raw }
        return Data(text.replacingCharacters(in: range, with: #""timestamp":"…""#).utf8)
    }

    var data: [String: Any] { object["data"] as? [String: Any] ?? [:] }
    var statistics: [String: Int] { object["statistics"] as? [String: Int] ?? [:] }

    func section(_ name: String) -> [[String: Any]] { data[name] as? [[String: Any]] ?? [] }

    /// One section as JSON text (to hand to PostgreSQL for comparisons).
    func sectionJSON(_ name: String) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: data[name] ?? []), as: UTF8.self)
    }

    func ids(_ section: String, _ key: String) -> Set<String> {
        Set(self.section(section).compactMap { $0[key] as? String })
    }
}
