import Foundation

/// The CLI's unfinished restore uploads, in `restore-uploads.json` beside its config (mode 0600):
/// one entry per (server, file digest), holding the gateway's upload id and URL, never a token.
/// `kg admin restore FILE --resume` finds its upload here; an upload that ends (accepted, refused
/// or expired) is removed.
struct RestoreSessionStore {
    struct Entry: Codable, Equatable {
        var server: String
        var fileDigest: String
        var uploadID: String
        var uploadURL: String
        var size: Int64
        var file: String
        var createdAt: Double

        enum CodingKeys: String, CodingKey {
            case server
            case fileDigest = "file_digest"
            case uploadID = "upload_id"
            case uploadURL = "upload_url"
            case size, file
            case createdAt = "created_at"
        }
    }

    let path: String

    /// Beside the config file `configPath`.
    init(configPath: String) {
        path = (configPath as NSString).deletingLastPathComponent + "/restore-uploads.json"
    }

    func entries() -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return (try? JSONDecoder().decode([Entry].self, from: data)) ?? []
    }

    func find(server: String, digest: String) -> Entry? {
        entries().last { GlobalOptions.sameServer($0.server, server) && $0.fileDigest == digest }
    }

    /// Adds `entry`, replacing any for the same server and file.
    func save(_ entry: Entry) throws {
        var all = entries().filter { !(GlobalOptions.sameServer($0.server, entry.server) && $0.fileDigest == entry.fileDigest) }
        all.append(entry)
        try write(all)
    }

    func remove(server: String, digest: String) {
        let all = entries()
        let kept = all.filter { !(GlobalOptions.sameServer($0.server, server) && $0.fileDigest == digest) }
        if kept.count != all.count { try? write(kept) }
    }

    private func write(_ all: [Entry]) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temp = path + ".tmp"
        guard FileManager.default.createFile(atPath: temp, contents: try encoder.encode(all), attributes: [.posixPermissions: 0o600]),
            rename(temp, path) == 0
        else {
            throw CLIError("cannot write \(path), where kg keeps its unfinished uploads")
        }
    }
}
