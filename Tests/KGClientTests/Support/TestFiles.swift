import Foundation

/// SHA-256 of a file, by `sha256sum` (the test target has no crypto library).
func sha256Hex(ofFile path: String) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
    process.arguments = [path]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
}

/// A temporary file of `size` pseudo-random bytes, written in 1 MiB blocks.
func makeTemporaryFile(size: Int) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("kgclient-\(UUID().uuidString).bin")
    _ = FileManager.default.createFile(atPath: url.path, contents: nil)
    let handle = try FileHandle(forWritingTo: url)
    defer { try? handle.close() }
    var generator = SystemRandomNumberGenerator()
    var block = [UInt64](repeating: 0, count: (1 << 20) / 8)
    for index in block.indices { block[index] = generator.next() }
    var written = 0
    while written < size {
        block[0] = UInt64(written)  // no two blocks alike
        let count = min(1 << 20, size - written)
        try block.withUnsafeBytes { try handle.write(contentsOf: Data($0.prefix(count))) }
        written += count
    }
    return url
}
