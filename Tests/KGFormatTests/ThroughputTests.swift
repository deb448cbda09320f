import Foundation
import XCTest
import KGFormat

/// Prints how fast the reader and the checker go; asserts only correctness.
/// Run in release for meaningful numbers: `swift test -c release --filter ThroughputTests`.
/// `KG_THROUGHPUT_MB` sets the document size (default 50 in release, 16 in debug).
final class ThroughputTests: XCTestCase {
    /// A full backup of concepts with 1536-number embeddings, written straight to bytes.
    static func generateDocument(megabytes: Int) -> (bytes: [UInt8], concepts: Int) {
        var out: [UInt8] = []
        out.reserveCapacity(megabytes << 20 + (1 << 20))
        func put(_ s: String) { out.append(contentsOf: s.utf8) }
        var rng = SystemRandomNumberGenerator()
        let conceptBytes = 1536 * 12 + 200
        let concepts = max(1, (megabytes << 20) / conceptBytes)
        put(#"{"version": "1.0", "type": "full_backup", "timestamp": "2024-05-01T10:00:00Z", "ontology": null, "#)
        put(#""schema_version": 3, "producer": {"name": "kg", "version": "0.1.0"}, "#)
        put(
            #""statistics": {"concepts": \#(concepts), "sources": 1, "instances": \#(concepts), "relationships": \#(concepts - 1), "vocabulary": 0}, "#
        )
        put(#""data": {"concepts": ["#)
        for c in 0..<concepts {
            if c > 0 { put(", ") }
            put(#"{"concept_id": "concept_\#(c)", "label": "Concept number \#(c) – é", "search_terms": ["term \#(c)", "alias"], "embedding": ["#)
            for k in 0..<1536 {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                // float4-like text, as pgvector prints it: up to 9 significant digits.
                let v = Int.random(in: -99_999_999...99_999_999, using: &rng)
                put(v < 0 ? "-0.0\(-v)" : "0.0\(v)")
            }
            put("]}")
        }
        put(#"], "sources": [{"source_id": "s1", "document": "Bench", "paragraph": 1, "full_text": "text", "file_path": "/b.md"}], "instances": ["#)
        for c in 0..<concepts {
            if c > 0 { put(", ") }
            put(#"{"instance_id": "i\#(c)", "quote": "a quote \"with\" escapes\n", "concept_id": "concept_\#(c)", "source_id": "s1"}"#)
        }
        put(#"], "relationships": ["#)
        for c in 1..<concepts {
            if c > 1 { put(", ") }
            put(#"{"from": "concept_\#(c - 1)", "to": "concept_\#(c)", "type": "IMPLIES", "properties": {"confidence": 0.9}}"#)
        }
        put("]}}")
        return (out, concepts)
    }

    private func megabytes() -> Int {
        if let text = ProcessInfo.processInfo.environment["KG_THROUGHPUT_MB"], let n = Int(text), n > 0 { return n }
        #if DEBUG
            return 16
        #else
            return 50
        #endif
    }

    private func feedInChunks(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                let end = min(raw.count, start + (1 << 20))
                try body(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                start = end
            }
        }
    }

    private func rate(_ bytes: Int, _ seconds: Double) -> String {
        String(format: "%.1f MB/s (%.1f MB in %.2f s)", Double(bytes) / 1e6 / seconds, Double(bytes) / 1e6, seconds)
    }

    func testThroughput() throws {
        let (document, concepts) = Self.generateDocument(megabytes: megabytes())
        #if DEBUG
            let build = "debug"
        #else
            let build = "release"
        #endif

        // Reader alone.
        var records = 0
        var start = Date()
        let reader = BackupStreamReader { event in
            if case .record = event { records += 1 }
        }
        try feedInChunks(document) { try reader.feed($0) }
        try reader.finish()
        let readerSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(records, concepts * 3)

        // Reader + checker, as `kg admin verify` runs.
        start = Date()
        let checker = IntegrityChecker()
        feedInChunks(document) { checker.feed($0) }
        let report = checker.finish()
        let checkerSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(report.findings, [])
        XCTAssertEqual(report.counts["concepts"], concepts)

        // Gzip content (decompression included).
        let gzip = try GzipCompressor(level: 1)
        var compressed: [UInt8] = []
        feedInChunks(document) { gzip.compress($0) { compressed.append(contentsOf: $0) } }
        compressed += gzip.finish()
        start = Date()
        let gzChecker = IntegrityChecker()
        feedInChunks(compressed) { gzChecker.feed($0) }
        let gzReport = gzChecker.finish()
        let gzipSeconds = Date().timeIntervalSince(start)
        XCTAssertEqual(gzReport, report)

        print("KGFormat throughput (\(build)): reader \(rate(document.count, readerSeconds))")
        print("KGFormat throughput (\(build)): reader+checker \(rate(document.count, checkerSeconds))")
        print("KGFormat throughput (\(build)): gzip+reader+checker \(rate(document.count, gzipSeconds)) of JSON")
    }
}
