import Foundation
import KGClient
import XCTest

/// What tests that send resumable restore uploads by hand share.
enum UploadFixtures {
    /// A backup's text with one more instance first in `data.instances`, naming a concept and a
    /// source the file lacks: well-formed, with a fault (two dangling references) that shows only
    /// once the whole file was read.
    static func withDanglingInstance(_ text: String) throws -> String {
        var text = text
        let range = try XCTUnwrap(text.range(of: #""instances":["#), "a backup with data.instances")
        text.insert(
            contentsOf: #"{"instance_id":"dangling","quote":"q","concept_id":"no-such-concept","source_id":"no-such-source"},"#,
            at: range.upperBound)
        return text
    }
}

extension HTTPClient {
    /// `PATCH url` with `range` of `bytes`, its `Upload-Offset` the range's start (or `offset`).
    func patchUpload(_ url: String, _ bytes: Data, _ range: Range<Int>, offset: Int? = nil) throws -> HTTPResponse {
        let slice = bytes.subdata(in: range)
        var sent = 0
        let source = UploadSource(size: Int64(slice.count)) { buffer in
            let n = min(buffer.count, slice.count - sent)
            _ = slice.copyBytes(to: buffer, from: sent..<(sent + n))
            sent += n
            return n
        }
        return try uploadStream(method: "PATCH", path: url, source: source, headers: ["Upload-Offset": String(offset ?? range.lowerBound)])
    }
}
