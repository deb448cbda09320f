import Foundation

extension TempStorage {
    /// Bytes and regular files in temp storage right now (one directory read and
    /// a stat per file; callers cache it).
    public func usage() -> (bytes: Int, files: Int) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return (0, 0) }
        var bytes = 0
        var files = 0
        for name in names {
            var info = stat()
            guard lstat("\(directory)/\(name)", &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            bytes += Int(info.st_size)
            files += 1
        }
        return (bytes, files)
    }
}
