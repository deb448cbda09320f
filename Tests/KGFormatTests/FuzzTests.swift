import KGTestSupport
import Foundation
import KGFormat
import XCTest

/// Fuzzes the integrity checker in process: valid full and ontology backups
/// (1536-number embeddings, non-ASCII text) are mutated by a seeded mutator
/// (FuzzSupport.swift) and fed through `IntegrityChecker` (whole, and in
/// random chunks) and `BackupFileChecker.check(path:)`.
///
/// Asserted for every input: no crash; each input done within 10 s; the three
/// ways of reading give the same report; the report is invalid, with a
/// `format` error, whenever the document is not well-formed JSON (judged by an
/// independent strict validator), and the reader accepts every well-formed
/// document within its limits; every finding has a known category and a
/// message; the JSON report is itself well-formed. Gzip bombs stop at
/// `maxDecompressedBytes` with memory flat.
///
/// `KG_FUZZ_SECONDS` (default 15) bounds the whole file; `KG_FUZZ_SEED`
/// replays a run; `KG_FUZZ_CASE_SEED` replays one case (both are printed).
final class FuzzTests: XCTestCase {
    static let env = ProcessInfo.processInfo.environment
    static let budget = env["KG_FUZZ_SECONDS"].flatMap(Double.init) ?? 15
    static let seed: UInt64 = env["KG_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max / 2)
    static let perInputLimit = 10.0
    /// Seconds of the budget left for FuzzTestsRegressions, which runs after this class.
    static let regressionReserve = 4.0
    static let decompressionLimit = 64 << 20
    static let allowedCategories: Set<String> = ["format", "references", "consistency", "external_deps", "vocabulary", "info"]
    nonisolated(unsafe) static var fileStart = Date()
    nonisolated(unsafe) static var started = false

    override class func setUp() {
        super.setUp()
        if !started {
            started = true
            fileStart = Date()
            print("FuzzTests: seed \(seed) (replay with KG_FUZZ_SEED=\(seed)), budget \(budget) s")
        }
    }

    private let scratchDir = NSTemporaryDirectory() + "kg-fuzz-\(getpid())"

    override func setUpWithError() throws {
        try FileManager.default.createDirectory(atPath: scratchDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: scratchDir)
    }

    // MARK: - Random mutations

    func testZRandomMutations() throws {
        // What is left of the file's budget after the fixed cases (at least a few seconds).
        let deadline = max(Self.fileStart.addingTimeInterval(Self.budget - Self.regressionReserve), Date().addingTimeInterval(3))
        var rng = SeededGenerator(seed: Self.seed)
        let bases = makeBases(&rng)
        var tally: [String: [String: Int]] = [:]
        var slowest = (seconds: 0.0, note: "")
        var cases = 0
        var total = 0.0

        let only = Self.env["KG_FUZZ_CASE_SEED"].flatMap { UInt64($0) }
        // At least two cases per kind of mutation, however slow the machine (a run that
        // ends at the deadline with fewer would mean nothing).
        let minimumCases = 2 * MutationKind.allCases.count
        while only != nil ? cases == 0 : (Date() < deadline || cases < minimumCases) {
            let caseSeed = only ?? SeededGenerator.caseSeed(Self.seed, cases)
            var caseRNG = SeededGenerator(seed: caseSeed)
            let base = bases[caseRNG.int(0..<bases.count)]
            let kind = MutationKind.draw(&caseRNG)
            let input = Mutator.mutate(base.bytes, tree: base.tree, kind: kind, rng: &caseRNG, baseReport: base.report)
            let label = "case seed \(caseSeed) (KG_FUZZ_SEED=\(Self.seed) KG_FUZZ_CASE_SEED=\(caseSeed)), \(kind): \(input.note), base \(base.name)"
            let (report, seconds) = run(input, rng: &caseRNG, label: label)
            total += seconds
            if seconds > slowest.seconds { slowest = (seconds, "\(kind): \(input.note)") }
            tally[kind.rawValue, default: [:]][outcome(report), default: 0] += 1
            cases += 1
        }

        print(
            "FuzzTests: \(cases) cases in \(String(format: "%.1f", total)) s of checking; seed \(Self.seed); slowest \(String(format: "%.2f", slowest.seconds)) s (\(slowest.note))"
        )
        for kind in MutationKind.allCases {
            let counts = tally[kind.rawValue] ?? [:]
            print(
                "  \(kind.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) "
                    + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
    }

    struct Base {
        let name: String
        let tree: JSONValue
        let bytes: [UInt8]
        let report: IntegrityReport
    }

    private func makeBases(_ rng: inout SeededGenerator) -> [Base] {
        var bases: [Base] = []
        func add(_ name: String, _ tree: JSONValue) {
            let bytes = tree.jsonBytes
            let report = feed(bytes, chunks: [bytes.count])
            XCTAssertTrue(report.errors.isEmpty, "base document \(name) is not valid: \(report.errors)")
            bases.append(Base(name: name, tree: tree, bytes: bytes, report: report))
        }
        add("fixture full", BackupFixtures.document())
        add("full, 3 concepts", FuzzCorpus.document(&rng, ontology: false, concepts: 3))
        add("full, 8 concepts, data first", FuzzCorpus.document(&rng, ontology: false, concepts: 8, dataFirst: true))
        add("ontology, 4 concepts", FuzzCorpus.document(&rng, ontology: true, concepts: 4))
        add("ontology, empty", FuzzCorpus.document(&rng, ontology: true, concepts: 0))
        return bases
    }

    private func outcome(_ report: IntegrityReport) -> String {
        report.valid ? (report.warnings.isEmpty ? "valid" : "valid+warnings") : "invalid"
    }

    // MARK: - Fixed cases

    func testADeepNestingHugeValuesAndDuplicates() throws {
        var rng = SeededGenerator(seed: 42)
        let doc = FuzzCorpus.document(&rng, ontology: false, concepts: 2)
        let bytes = doc.jsonBytes
        let deep = [UInt8](repeating: 0x5B, count: 100_000)
        let cases: [(String, [UInt8], Bool?)] = [
            ("100k '[' as the document", deep, false),
            ("100k '[' closed", deep + [UInt8](repeating: 0x5D, count: 100_000), false),
            ("100k '[' as a metadata value", Array(#"{"version":"#.utf8) + deep, false),
            ("100k '[' as a record", Array(#"{"data":{"concepts":["#.utf8) + deep, false),
            ("100k '{\"a\":'", Array(String(repeating: #"{"a":"#, count: 100_000).utf8), false),
            (
                "5 MB label",
                Mutator.splice(
                    Mutator.setPath(doc, ["data", "concepts", "0", "label"], "\u{1}M\u{1}").jsonBytes,
                    marker: "\u{1}M\u{1}", with: Mutator.hugeStringLiteral), true
            ),
            (
                "5 MB key",
                Mutator.splice(
                    Mutator.insertMember(doc, key: "\u{1}M\u{1}", value: 1, rng: &rng).jsonBytes,
                    marker: "\u{1}M\u{1}", with: Mutator.hugeStringLiteral), true
            ),
            ("5 MB unterminated string", Array(#"{"version":"#.utf8) + Mutator.hugeStringLiteral.dropLast(), false),
            ("1e999999 as a count", Mutator.setPath(doc, ["statistics", "concepts"], .number("1e999999")).jsonBytes, true),
            ("1e999999 as schema_version", Mutator.setPath(doc, ["schema_version"], .number("1e999999")).jsonBytes, true),
            // A restore refuses it (an integer column), so the checker does too (issue 12).
            (
                "huge integer paragraph",
                Mutator.setPath(
                    doc, ["data", "sources", "0", "paragraph"],
                    .number(JSONNumber(String(repeating: "9", count: 5000)))
                ).jsonBytes, false
            ),
            ("1 MB number", Array(#"{"version":"#.utf8) + Array(String(repeating: "1", count: 1 << 20).utf8) + Array("}".utf8), false),
            ("empty", [], false),
            ("only whitespace", Array("  \n\t ".utf8), false),
            ("NUL bytes", [0, 0, 0, 0], false),
            ("UTF-8 BOM first", [0xEF, 0xBB, 0xBF] + bytes, false),
            ("UTF-16 document", Array(String(decoding: bytes, as: UTF8.self).utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, false),
            ("valid document twice", bytes + bytes, false),
            (
                "lone surrogate escape in a label",
                Mutator.splice(
                    Mutator.setPath(doc, ["data", "concepts", "0", "label"], "\u{1}M\u{1}").jsonBytes,
                    marker: "\u{1}M\u{1}", with: Array(#""a\ud800b""#.utf8)), false
            ),
            ("overlong '/' in a key", Array(#"{"versi"#.utf8) + [0xC0, 0xAF] + Array(#"on":"1.0"}"#.utf8), false),
        ]
        for (name, input, valid) in cases {
            let (report, seconds) = run(
                FuzzInput(kind: .deepNesting, bytes: input, document: input, expectation: .oracle, note: name),
                rng: &rng, label: name)
            if seconds > 0.2 { print("FuzzTests: \(name): \(String(format: "%.2f", seconds)) s") }
            if let valid { XCTAssertEqual(report.valid, valid, "\(name): \(report.errors)") }
        }
    }

    /// Every truncation point and every two-chunk split of a small backup, plain and gzip.
    func testCEveryTruncationAndSplit() throws {
        let document = BackupFixtures.document(type: "ontology_backup", ontology: "Esprit – 心")
            .appendingRecord("relationships", BackupFixtures.relationship("c1", "elsewhere"))
        let bytes = document.jsonBytes
        let whole = feed(bytes, chunks: [bytes.count])
        XCTAssertTrue(whole.valid, "\(whole.errors)")
        XCTAssertEqual(whole.externalDeps, 1)
        for cut in 0..<bytes.count {
            let report = feed(Array(bytes[..<cut]), chunks: [cut])
            XCTAssertFalse(report.valid, "truncated at \(cut) but valid")
            XCTAssertTrue(report.errors.contains { $0.category == .format }, "truncated at \(cut): \(report.errors)")
            XCTAssertEqual(feed(bytes, chunks: [cut, bytes.count - cut]), whole, "split at \(cut)")
        }
        let compressed = Mutator.gzip(bytes, level: 6)
        for cut in 0..<compressed.count {
            XCTAssertFalse(feed(Array(compressed[..<cut]), chunks: [cut]).valid, "gzip truncated at \(cut) but valid")
            XCTAssertEqual(feed(compressed, chunks: [cut, compressed.count - cut]), whole, "gzip split at \(cut)")
        }
    }

    // MARK: - Gzip bombs

    /// gzip members, each inflating to `megabytes` MiB of `fill`; `head` first, inside the first member.
    private func bomb(head: String, fill: UInt8, megabytes: Int, members: Int = 1) -> [UInt8] {
        let first = GzipBomb.member(head: Array(head.utf8), fill: fill, megabytes: megabytes)
        let rest = head.isEmpty ? first : GzipBomb.member(head: [], fill: fill, megabytes: megabytes)
        return first + (1..<max(1, members)).flatMap { _ in rest }
    }

    func testBGzipBombsStopAtTheLimit() throws {
        let limit = Self.decompressionLimit
        // Built before the memory baseline: the bombs themselves are ~1 MB each.
        let t = Date()
        let cases: [(name: String, bytes: [UInt8], limit: Int?, expect: String)] = [
            (
                "1 GiB of whitespace between keys, one member",
                bomb(head: #"{"version": "1.0", "type": "full_backup", "#, fill: 0x20, megabytes: 1088), limit,
                "decompresses to more than \(limit) bytes"
            ),
            ("1 GiB of zeros", bomb(head: "", fill: 0, megabytes: 1024), limit, "not JSON"),
            (
                "1.25 GiB of whitespace, 20 members", bomb(head: #"{"data": {"concepts": ["#, fill: 0x0A, megabytes: 64, members: 20),
                limit, "decompresses to more than \(limit) bytes"
            ),
            (
                "whitespace inside a value, limit above the value limit", bomb(head: #"{"version": ["#, fill: 0x20, megabytes: 256, members: 5),
                256 << 20, "larger than the limit of \(BackupReaderLimits().maxValueBytes) bytes"
            ),
            (
                "a 1 GiB string", bomb(head: #"{"version": ""#, fill: 0x61, megabytes: 1024),
                32 << 20, "decompresses to more than \(32 << 20) bytes"
            ),
        ]
        // The builder makes real gzip: a small one inflates completely, CRC and size checked by zlib.
        let small = GzipBomb.member(head: Array("{".utf8), fill: 0x20, megabytes: 3)
        let decoder = ContentDecoder()
        var inflated = 0
        XCTAssertNoThrow(try small.withUnsafeBytes { try decoder.decode($0) { inflated += $0.count } })
        XCTAssertNoThrow(try decoder.finish { inflated += $0.count })
        XCTAssertEqual(inflated, 1 + 3 << 20)
        print("FuzzTests: bombs built in \(String(format: "%.1f", Date().timeIntervalSince(t))) s")

        let resetWorked = ProcessStatus.resetPeak()
        let baseline = (resetWorked ? ProcessStatus.kilobytes("VmRSS") : ProcessStatus.kilobytes("VmHWM")) ?? 0
        var rng = SeededGenerator(seed: Self.seed)
        for c in cases {
            let path = scratchDir + "/bomb.json.gz"
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(c.bytes)))
            var start = Date()
            let fed = feed(c.bytes, chunks: randomChunks(c.bytes.count, &rng), maxDecompressedBytes: c.limit)
            let fedSeconds = Date().timeIntervalSince(start)
            start = Date()
            let fromFile = BackupFileChecker.check(path: path, maxDecompressedBytes: c.limit)
            let fileSeconds = Date().timeIntervalSince(start)
            print(
                "FuzzTests: bomb \"\(c.name)\" (\(c.bytes.count) bytes): \(String(format: "%.2f", fedSeconds)) s fed, \(String(format: "%.2f", fileSeconds)) s from file; \(fed.errors.first?.message ?? "no error")"
            )
            for report in [fed, fromFile] {
                XCTAssertFalse(report.valid, c.name)
                XCTAssertTrue(
                    report.errors.contains { $0.category == .format && $0.message.contains(c.expect) },
                    "\(c.name): expected an error containing \"\(c.expect)\", got \(report.errors)")
                assertSound(report, c.name)
            }
            XCTAssertEqual(fed, fromFile, c.name)
            XCTAssertLessThan(fedSeconds, Self.perInputLimit, c.name)
            XCTAssertLessThan(fileSeconds, Self.perInputLimit, c.name)
        }
        let peak = ProcessStatus.kilobytes("VmHWM") ?? 0
        let growthMB = Double(peak - baseline) / 1024
        print(
            "FuzzTests: bombs: peak RSS \(peak / 1024) MB, growth \(String(format: "%.0f", growthMB)) MB over \(resetWorked ? "RSS after a peak reset" : "the earlier peak")"
        )
        XCTAssertLessThan(growthMB, 200, "memory grew by \(growthMB) MB while checking gzip bombs")
    }

    // MARK: - Running one input

    /// Feeds `bytes` to a fresh checker in chunks of the given sizes.
    private func feed(_ bytes: [UInt8], chunks: [Int], maxDecompressedBytes: Int? = decompressionLimit) -> IntegrityReport {
        let checker = IntegrityChecker(maxDecompressedBytes: maxDecompressedBytes)
        bytes.withUnsafeBytes { raw in
            var start = 0
            for size in chunks {
                let end = min(raw.count, start + size)
                checker.feed(UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                start = end
            }
            precondition(start == raw.count)
        }
        return checker.finish()
    }

    /// Chunk sizes adding up to `count`: tiny, medium, large or mixed, at most ~4000 of them.
    private func randomChunks(_ count: Int, _ rng: inout SeededGenerator) -> [Int] {
        let floor = count / 4000 + 1
        let mode = rng.int(0...3)
        var sizes: [Int] = []
        var left = count
        while left > 0 {
            let size: Int
            switch mode {
            case 0: size = rng.int(1...7)
            case 1: size = rng.int(1...8192)
            case 2: size = rng.int(1...(1 << 20))
            default: size = rng.pick([1, 2, 3, rng.int(1...64), rng.int(1...65536)])
            }
            let s = min(left, max(size, floor))
            sizes.append(s)
            left -= s
        }
        if sizes.isEmpty || rng.chance(0.1) { sizes.insert(0, at: 0) }  // an empty chunk too
        return sizes
    }

    /// Runs one input through every reading path and checks every property.
    @discardableResult
    private func run(
        _ input: FuzzInput, rng: inout SeededGenerator, label: String,
        file: StaticString = #filePath, line: UInt = #line
    ) -> (report: IntegrityReport, seconds: Double) {
        let started = Date()
        let whole = feed(input.bytes, chunks: [input.bytes.count])
        let chunks = randomChunks(input.bytes.count, &rng)
        let chunked = feed(input.bytes, chunks: chunks)
        let path = scratchDir + "/case.json"
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(input.bytes)))
        let fromFile = BackupFileChecker.check(path: path, maxDecompressedBytes: Self.decompressionLimit)
        let seconds = Date().timeIntervalSince(started)

        XCTAssertLessThan(seconds, Self.perInputLimit, "too slow: \(label)", file: file, line: line)
        XCTAssertEqual(
            whole, chunked, "the report depends on the chunking (\(chunks.count) chunks, first \(chunks.prefix(8))): \(label)", file: file, line: line
        )
        XCTAssertEqual(whole, fromFile, "check(path:) differs from the bytes API: \(label)", file: file, line: line)
        assertSound(whole, label, file: file, line: line)

        switch input.expectation {
        case .oracle:
            guard let document = input.document else { break }
            let verdict = StrictJSON.check(document)
            let readerError = readerFailure(document)
            if !verdict.wellFormed {
                XCTAssertFalse(whole.valid, "not well-formed JSON (\(verdict.failure)) but valid: \(label)", file: file, line: line)
                XCTAssertTrue(
                    whole.errors.contains { $0.category == .format },
                    "not well-formed JSON but no format error: \(whole.errors): \(label)", file: file, line: line)
                XCTAssertNotNil(readerError, "the reader accepted malformed JSON (\(verdict.failure)): \(label)", file: file, line: line)
            } else if verdict.topLevelObject && !verdict.loneSurrogate && verdict.maxDepth <= BackupReaderLimits().maxDepth {
                XCTAssertNil(readerError, "the reader refused well-formed JSON: \(readerError ?? ""): \(label)", file: file, line: line)
            }
        case .invalid:
            XCTAssertFalse(whole.valid, "must be invalid: \(label)", file: file, line: line)
        case .invalidOrSameAs(let original):
            if whole.valid {
                XCTAssertEqual(whole, original, "damaged gzip read as a different valid document: \(label)", file: file, line: line)
            }
        case .sameAs(let expected):
            XCTAssertEqual(whole, expected, "\(label)", file: file, line: line)
        }
        return (whole, seconds)
    }

    /// What the bare reader says about a document (nil when it reads to the end).
    private func readerFailure(_ document: [UInt8]) -> String? {
        let reader = BackupStreamReader { _ in }
        do {
            try reader.feed(document)
            try reader.finish()
            return nil
        } catch {
            return String(describing: error)
        }
    }

    /// Every finding has a known category and a message; the JSON and text forms render.
    private func assertSound(_ report: IntegrityReport, _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(report.valid, report.errors.isEmpty, label, file: file, line: line)
        for (list, severity) in [(report.errors, Finding.Severity.error), (report.warnings, .warning), (report.info, .info)] {
            for finding in list {
                XCTAssertEqual(finding.severity, severity, label, file: file, line: line)
                XCTAssertTrue(Self.allowedCategories.contains(finding.category.rawValue), "\(finding): \(label)", file: file, line: line)
                XCTAssertFalse(
                    finding.message.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "empty message: \(label)", file: file, line: line)
            }
        }
        let json = report.jsonBytes()
        let verdict = StrictJSON.check(json)
        XCTAssertTrue(
            verdict.wellFormed && verdict.topLevelObject, "the JSON report is not well-formed (\(verdict.failure)): \(label)", file: file, line: line)
        // The report's JSON lists the same findings.
        if let object = try? JSONValue.parse(String(decoding: json, as: UTF8.self), maxDepth: 300) {
            XCTAssertEqual(object["errors"]?.arrayValue?.count, report.errors.count, label, file: file, line: line)
            for entry in object["errors"]?.arrayValue ?? [] {
                XCTAssertTrue(Self.allowedCategories.contains(entry["category"]?.stringValue ?? ""), "\(entry): \(label)", file: file, line: line)
                XCTAssertFalse((entry["message"]?.stringValue ?? "").isEmpty, "\(entry): \(label)", file: file, line: line)
            }
        } else {
            XCTFail("the JSON report cannot be parsed back: \(label)", file: file, line: line)
        }
        XCTAssertFalse(report.renderText().isEmpty, label, file: file, line: line)
    }
}

/// Regression tests for what the fuzz test found in KGFormat.
final class FuzzTestsRegressions: XCTestCase {
    /// Megabytes the process's peak RSS grew by while `body` ran.
    private func peakGrowthMB(_ body: () -> Void) -> Double {
        let reset = ProcessStatus.resetPeak()
        let before = (reset ? ProcessStatus.kilobytes("VmRSS") : ProcessStatus.kilobytes("VmHWM")) ?? 0
        body()
        return Double((ProcessStatus.kilobytes("VmHWM") ?? 0) - before) / 1024
    }

    /// Unknown top-level keys were all kept (every value, whole) until the
    /// report: memory grew with the file's text, not with its ids (40 keys of
    /// 8 MB each, from a 1.4 MB gzip upload, held 330 MB; the gateway checks
    /// uploads with this checker).
    func testUnknownTopLevelValuesAreNotKept() throws {
        let value = [UInt8](repeating: UInt8(ascii: "x"), count: 6 << 20)
        let gzip = try GzipCompressor(level: 1)
        var file = gzip.compress(Array(#"{"version": "1.0", "type": "full_backup", "timestamp": "2024-05-01T10:00:00Z", "statistics": {}, "#.utf8))
        for k in 0..<16 {
            file += gzip.compress(Array("\"extra_\(k)\": \"".utf8))
            file += gzip.compress(value)
            file += gzip.compress(Array("\", ".utf8))
        }
        file += gzip.compress(Array(#""data": {"concepts": [], "sources": [], "instances": [], "relationships": []}}"#.utf8))
        file += gzip.finish()
        var report: IntegrityReport?
        let growth = peakGrowthMB { report = check(file, chunkSize: 1 << 16) }
        print("unknown top-level values: \(file.count) bytes of gzip, peak grew by \(Int(growth)) MB")
        XCTAssertEqual(report?.valid, true, "\(report?.errors ?? [])")
        XCTAssertLessThan(growth, 48, "memory grew with the size of unknown top-level values (16 × 6 MB)")
    }

    /// A repeated `"data"` key or section that is not an array added one error
    /// each, uncapped: 100k repeats made 100k findings (a report of megabytes).
    func testRepeatedKeyErrorsAreCapped() {
        var text = #"{"version": "1.0", "type": "full_backup", "timestamp": "2024-05-01T10:00:00Z", "statistics": {}, "#
        text += String(repeating: #""data": 1, "#, count: 50_000)
        text += #""data": {"sources": [], "instances": [], "relationships": [], "#
        text += String(repeating: #""concepts": 1, "#, count: 50_000)
        text += #""concepts": []}}"#
        let report = check(Array(text.utf8))
        XCTAssertFalse(report.valid)
        XCTAssertLessThan(report.findings.count, 50, "\(report.findings.count) findings")
        XCTAssertTrue(
            report.errors.contains { $0.message.contains("and 49980 more \"data\" values that are not objects") }, "\(report.errors.suffix(3))")
        XCTAssertTrue(
            report.errors.contains { $0.message.contains("and 49980 more data.concepts values that are not arrays") }, "\(report.errors.suffix(3))")
        XCTAssertTrue(report.errors.allSatisfy { $0.category == .format })
    }

    /// Every distinct section name was counted and listed in the report (and
    /// so in the restore job's parameters and its 202 answer): 100k unknown
    /// empty sections made 100k counts.
    func testUnknownSectionsAreCountedUpToALimit() {
        var text = #"{"version": "1.0", "type": "full_backup", "timestamp": "2024-05-01T10:00:00Z", "statistics": {}, "#
        text += #""data": {"concepts": [], "sources": [], "instances": [], "relationships": [{"from": "a", "to": "a", "type": "IMPLIES"}], "#
        text += (0..<100_000).map { #""x\#($0)": [\#($0)]"# }.joined(separator: ", ")
        text += #", "concepts": [{"concept_id": "a", "label": "A"}]}}"#
        let report = check(Array(text.utf8))
        XCTAssertTrue(report.valid, "\(report.errors)")
        XCTAssertEqual(report.counts.count, 4 + 64, "the four sections and the first 64 unknown ones")
        XCTAssertEqual(report.counts["x0"], 1)
        XCTAssertEqual(report.counts["x63"], 1)
        XCTAssertNil(report.counts["x64"])
        XCTAssertEqual(report.counts["concepts"], 1)
    }

    /// A vocabulary listing one relationship type twice passed the check, so
    /// the gateway accepted the upload (202) and the worker's restore failed
    /// ("relationship types appear more than once in the vocabulary"). Found by
    /// the system fuzz test duplicating `data.vocabulary` members.
    func testDuplicateVocabularyTypesAreAnError() {
        let vocabulary: JSONValue = [
            BackupFixtures.vocabulary("IMPLIES"), BackupFixtures.vocabulary("SUPPORTS"),
            BackupFixtures.vocabulary("IMPLIES"),
        ]
        let report = check(
            BackupFixtures.document().settingSection("vocabulary", vocabulary).setting("statistics", nil)
                .setting("statistics", ["vocabulary": 3]))
        XCTAssertFalse(report.valid)
        XCTAssertEqual(
            report.errors,
            [
                Finding(
                    .error, .vocabulary,
                    "relationship type IMPLIES is listed more than once in the vocabulary (again at data.vocabulary[2]); a restore cannot load both")
            ])
    }

    /// A string holding U+0000 (JSON "\u0000") passed the check, the upload was
    /// accepted, and the restore failed on PostgreSQL's message ("unsupported
    /// Unicode escape sequence … COPY stage_relationships … column properties";
    /// text columns cannot hold it either). Found by the system fuzz test.
    func testNULCharactersInRecordsAreAnError() {
        let valid = BackupFixtures.document()
        let cases: [(JSONValue, String)] = [
            (Mutator.setPath(valid, ["data", "concepts", "1", "label"], "a\u{0}b"), "data.concepts[1].label"),
            (Mutator.setPath(valid, ["data", "concepts", "0", "search_terms"], ["ok", "\u{0}"]), "data.concepts[0].search_terms[1]"),
            (
                Mutator.setPath(valid, ["data", "relationships", "2", "properties", "category"], "x\u{0}"),
                "data.relationships[2].properties.category"
            ),
            (
                Mutator.setPath(valid, ["data", "relationships", "0", "properties"], ["n\u{0}te": 1]),
                #"data.relationships[0].properties."n\u0000te""#
            ),
        ]
        for (document, place) in cases {
            let bytes = document.jsonBytes
            XCTAssertNotNil(Mutator.find(Array(#"\u0000"#.utf8), in: bytes), "the file carries the escape")
            let report = check(bytes)
            XCTAssertFalse(report.valid, place)
            XCTAssertEqual(
                report.errors, [Finding(.error, .format, "\(place) holds the character U+0000 (\\u0000), which the database cannot store")])
        }
        // Elsewhere (metadata is not restored) it is no error, and neither is an escaped "\\u0000" text.
        XCTAssertTrue(check(valid.setting("comment", "a\u{0}b")).valid)
        XCTAssertTrue(check(Mutator.setPath(valid, ["data", "concepts", "1", "label"], #"a\u0000b"#)).valid)
    }
}
