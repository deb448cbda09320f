import Foundation

/// Where a download goes: a folder (the server's file name inside it; a taken
/// name gets a `-2`, `-3`, … suffix), or the exact file `--output` names, which
/// is never silently replaced nor swapped for another name.
enum OutputTarget {
    case directory(String)
    /// `replace`: `--force` was given, an existing file is replaced when the download is whole.
    case file(String, replace: Bool)

    /// Resolves `--output` (or its absence) before anything is sent, so that a
    /// wrong path costs nothing: an existing file without `--force` and a missing
    /// folder are refused here, naming the path.
    static func resolve(_ outputPath: String?, default directory: String, force: Bool) throws -> OutputTarget {
        guard let outputPath else { return .directory(directory) }
        let expanded = (outputPath as NSString).expandingTildeInPath
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: expanded, isDirectory: &isDir) {
            if isDir.boolValue { return .directory(expanded) }
            guard force else {
                throw CLIError(
                    "\(expanded) already exists; nothing was sent. Choose another --output, "
                        + "or add --force to replace it once the new backup is whole and checked.")
            }
            return .file(expanded, replace: true)
        }
        let parent = (expanded as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        if !FileManager.default.fileExists(atPath: folder, isDirectory: &isDir) || !isDir.boolValue {
            throw CLIError(
                "the folder \(folder) does not exist; nothing was sent. Create it (`mkdir -p \(folder)`) "
                    + "or choose another --output.")
        }
        return .file(expanded, replace: force)
    }

    /// The partial file for a download whose server-side name is `serverName`.
    func partialFile(serverName: String) throws -> PartialFile {
        switch self {
        case .directory(let dir):
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return try PartialFile(final: dir + "/" + serverName, onTaken: .suffix)
        case .file(let path, let replace):
            return try PartialFile(final: path, onTaken: replace ? .replace : .refuse)
        }
    }
}
