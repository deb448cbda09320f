extension JSONValue {
    /// Parses one complete JSON text (small values: a field that holds JSON as a string).
    public static func parse(_ text: String, maxDepth: Int = 64) throws -> JSONValue {
        var bytes = Array(text.utf8)
        var scratch: [UInt8] = []
        return try bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, buffer.count > 0 else {
                throw BackupReadError(.notJSON, "empty JSON text", offset: 0)
            }
            var parser = JSONValueParser(base: UnsafePointer(base), count: buffer.count, startOffset: 0, depthBase: 0, maxDepth: maxDepth)
            return try parser.parse(scratch: &scratch)
        }
    }
}
