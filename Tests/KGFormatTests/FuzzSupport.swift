import Foundation
import KGFormat
import KGTestSupport

// Shared pieces of the in-process fuzz test: a seeded generator, valid backup
// documents to start from, an independent strict JSON validator (the oracle),
// and the mutator.

// MARK: - Valid documents

enum FuzzCorpus {
    static let words = [
        "Bewußtsein", "意識", "сознание", "Ἀριστοτέλης", "naïve café", "עברית ומחשבה", "🧠 mind",
        "👩‍🔬 scientist", "Ωmega ≠ α", "quote \"inside\"", "back\\slash", "tab\tand\nnewline",
        "control \u{01}\u{1F}", "plain ascii", "Søren Kierkegaard", "ℵ₀ infinities", "\u{FEFF}bom",
        "e\u{301}", "\u{10FFFF}max", "</script>",
    ]

    static func text(_ rng: inout SeededGenerator, words count: Int) -> String {
        (0..<count).map { _ in rng.pick(words) }.joined(separator: " ")
    }

    /// A number as PostgreSQL prints a double: shortest exact form.
    static func embeddingNumber(_ rng: inout SeededGenerator) -> JSONValue {
        let d = Double.random(in: -1...1, using: &rng) * (rng.chance(0.05) ? 1e-7 : 1)
        return .number("\(d)")
    }

    static func embedding(_ rng: inout SeededGenerator, dimensions: Int = 1536) -> JSONValue {
        .array((0..<dimensions).map { _ in embeddingNumber(&rng) })
    }

    /// A full or ontology backup with 1536-number embeddings and non-ASCII text.
    /// An ontology backup names concepts outside itself (external dependencies).
    static func document(
        _ rng: inout SeededGenerator, ontology: Bool, concepts conceptCount: Int,
        dataFirst: Bool = false
    ) -> JSONValue {
        let ontologyName = ontology ? "Philosophie des Geistes – 心の哲学 \(rng.int(1...9))" : nil
        var concepts: [JSONValue] = []
        for c in 0..<conceptCount {
            concepts.append(
                .object([
                    (key: "concept_id", value: .string("c_\(c)_\(rng.pick(words).prefix(6))")),
                    (key: "label", value: .string(text(&rng, words: 2))),
                    (key: "description", value: rng.chance(0.3) ? .null : .string(text(&rng, words: 6))),
                    (key: "search_terms", value: .array((0..<rng.int(0...3)).map { _ in .string(rng.pick(words)) })),
                    (key: "embedding", value: rng.chance(0.1) ? .array([]) : embedding(&rng)),
                ]))
        }
        let conceptIDs = concepts.map { $0["concept_id"]!.stringValue! }
        let sourceCount = max(1, conceptCount / 2)
        var sources: [JSONValue] = []
        for s in 0..<sourceCount {
            var members: [(key: String, value: JSONValue)] = [
                (key: "source_id", value: .string("s\(s)")),
                (key: "document", value: .string(ontologyName ?? "Doc \(rng.pick(words))")),
                (key: "paragraph", value: .integer(s + 1)),
                (key: "full_text", value: .string(text(&rng, words: rng.int(3...30)))),
                (key: "file_path", value: .string("/docs/\(rng.pick(words))/p\(s).md")),
            ]
            if rng.chance(0.5) { members.append((key: "content_type", value: "text/markdown")) }
            sources.append(.object(members))
        }
        var instances: [JSONValue] = []
        var quote = ""
        for (i, id) in conceptIDs.enumerated() {
            // Two rows per instance (it evidences two concepts): the same quote and source, as a restore requires.
            if i % 2 == 0 { quote = text(&rng, words: 4) }
            instances.append(
                .object([
                    (key: "instance_id", value: .string("i\(i / 2)")),
                    (key: "quote", value: .string(quote)),
                    (key: "concept_id", value: .string(id)),
                    (key: "source_id", value: .string("s\((i / 2) % sourceCount)")),
                ]))
        }
        let types = ["IMPLIES", "SUPPORTS", "CAUSES", "PART_OF", "SIMILAR_TO", "CUSTOM_LINK"]
        var relationships: [JSONValue] = []
        for r in 0..<max(1, conceptCount) {
            let from = rng.pick(conceptIDs.isEmpty ? ["c_x"] : conceptIDs)
            let to = ontology && rng.chance(0.3) ? "external_\(r)" : rng.pick(conceptIDs.isEmpty ? ["c_x"] : conceptIDs)
            relationships.append(
                .object([
                    (key: "from", value: .string(from)), (key: "to", value: .string(to)),
                    (key: "type", value: .string(rng.pick(types))),
                    (
                        key: "properties",
                        value: rng.chance(0.3)
                            ? .object([])
                            : .object([
                                (key: "confidence", value: .number("0.\(rng.int(1...99))")),
                                (key: "category", value: "logical_truth"),
                                (key: "created_at", value: "2024-05-01T10:00:00Z"),
                            ])
                    ),
                ]))
        }
        let vocabulary: [JSONValue] = types.map { type in
            .object([
                (key: "relationship_type", value: .string(type)),
                (key: "description", value: .string(text(&rng, words: 3))),
                (key: "category", value: "logical_truth"),
                (key: "added_by", value: "system"), (key: "added_at", value: "2024-01-01T00:00:00Z"),
                (key: "usage_count", value: .integer(rng.int(0...1000))),
                (key: "is_active", value: true), (key: "is_builtin", value: .bool(type != "CUSTOM_LINK")),
                (key: "synonyms", value: rng.chance(0.5) ? .null : .array([.string(rng.pick(words))])),
                (key: "deprecation_reason", value: .null),
                (key: "embedding_model", value: "text-embedding-3-small"),
                (key: "embedding_generated_at", value: .null),
                (key: "embedding", value: rng.chance(0.8) ? .null : embedding(&rng)),
                (key: "direction_semantics", value: "outward"),
            ])
        }
        let sections: [(key: String, value: JSONValue)] = [
            (key: "vocabulary", value: .array(vocabulary)), (key: "concepts", value: .array(concepts)),
            (key: "sources", value: .array(sources)), (key: "instances", value: .array(instances)),
            (key: "relationships", value: .array(relationships)),
        ]
        let metadata: [(key: String, value: JSONValue)] = [
            (key: "version", value: "1.0"),
            (key: "type", value: .string(ontology ? "ontology_backup" : "full_backup")),
            (key: "timestamp", value: "2026-11-28T10:15:00.123Z"),
            (key: "ontology", value: ontologyName.map(JSONValue.string) ?? .null),
            (key: "schema_version", value: 3),
            (key: "producer", value: ["name": "kg", "version": "0.1.0"]),
            (key: "statistics", value: BackupFixtures.statistics(for: sections)),
        ]
        let data = (key: "data", value: JSONValue.object(sections))
        return .object(dataFirst ? [data] + metadata : metadata + [data])
    }
}

// MARK: - The oracle

/// An independent, iterative, strict RFC 8259 validator: what "well-formed
/// JSON" means in the fuzz assertions. Strict UTF-8 (RFC 3629) inside strings.
struct StrictJSON {
    struct Verdict {
        var wellFormed = false
        var topLevelObject = false
        var maxDepth = 0
        /// A `\u` escape names half of a surrogate pair (grammatical JSON, but no character).
        var loneSurrogate = false
        var failure = ""
    }

    static func check(_ bytes: [UInt8]) -> Verdict {
        bytes.withUnsafeBufferPointer { buffer in
            var parser = StrictJSON(b: buffer)
            return parser.run()
        }
    }

    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0
    private var v = Verdict()

    private init(b: UnsafeBufferPointer<UInt8>) { self.b = b }

    private enum Expect { case value, valueOrClose, key, keyOrClose, colon, commaOrClose, end }

    private func fail(_ why: String) -> Verdict {
        var f = v
        f.wellFormed = false
        f.failure = "\(why) at byte \(i)"
        return f
    }

    @inline(__always) private static func isWS(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
    @inline(__always) private static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }
    private static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: return UInt32(c - 0x30)
        case 0x41...0x46: return UInt32(c - 0x41 + 10)
        case 0x61...0x66: return UInt32(c - 0x61 + 10)
        default: return nil
        }
    }

    /// `i` is at the opening quote; returns false when malformed, else `i` is after the closing quote.
    private mutating func string() -> Bool {
        let n = b.count
        i += 1
        var pendingHigh = false
        while i < n {
            let c = b[i]
            if c == 0x22 {
                if pendingHigh { v.loneSurrogate = true }
                i += 1
                return true
            }
            if c == 0x5C {
                guard i + 1 < n else { return false }
                let e = b[i + 1]
                if e == 0x75 {
                    guard i + 6 <= n else { return false }
                    var u: UInt32 = 0
                    for k in 2..<6 {
                        guard let h = Self.hexValue(b[i + k]) else { return false }
                        u = u << 4 | h
                    }
                    if u >= 0xD800 && u <= 0xDBFF {
                        if pendingHigh { v.loneSurrogate = true }
                        pendingHigh = true
                    } else if u >= 0xDC00 && u <= 0xDFFF {
                        if !pendingHigh { v.loneSurrogate = true }
                        pendingHigh = false
                    } else {
                        if pendingHigh { v.loneSurrogate = true }
                        pendingHigh = false
                    }
                    i += 6
                    continue
                }
                switch e {
                case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: break
                default: return false
                }
                if pendingHigh { v.loneSurrogate = true }
                pendingHigh = false
                i += 2
                continue
            }
            if pendingHigh { v.loneSurrogate = true }
            pendingHigh = false
            if c < 0x20 { return false }
            if c < 0x80 {
                i += 1
                continue
            }
            var len = 0
            var lo: UInt8 = 0x80
            var hi: UInt8 = 0xBF
            switch c {
            case 0xC2...0xDF: len = 2
            case 0xE0:
                len = 3
                lo = 0xA0
            case 0xE1...0xEC, 0xEE, 0xEF: len = 3
            case 0xED:
                len = 3
                hi = 0x9F
            case 0xF0:
                len = 4
                lo = 0x90
            case 0xF1...0xF3: len = 4
            case 0xF4:
                len = 4
                hi = 0x8F
            default: return false
            }
            guard i + len <= n, b[i + 1] >= lo, b[i + 1] <= hi else { return false }
            var k = 2
            while k < len {
                if b[i + k] & 0xC0 != 0x80 { return false }
                k += 1
            }
            i += len
        }
        return false
    }

    private mutating func number() -> Bool {
        let n = b.count
        if b[i] == 0x2D { i += 1 }
        guard i < n else { return false }
        if b[i] == 0x30 {
            i += 1
        } else if b[i] >= 0x31 && b[i] <= 0x39 {
            while i < n && Self.isDigit(b[i]) { i += 1 }
        } else {
            return false
        }
        if i < n && b[i] == 0x2E {
            i += 1
            guard i < n && Self.isDigit(b[i]) else { return false }
            while i < n && Self.isDigit(b[i]) { i += 1 }
        }
        if i < n && (b[i] == 0x65 || b[i] == 0x45) {
            i += 1
            if i < n && (b[i] == 0x2B || b[i] == 0x2D) { i += 1 }
            guard i < n && Self.isDigit(b[i]) else { return false }
            while i < n && Self.isDigit(b[i]) { i += 1 }
        }
        return true
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= b.count else { return false }
        for k in 0..<count where b[i + k] != word.utf8Start[k] { return false }
        i += count
        return true
    }

    private mutating func run() -> Verdict {
        let n = b.count
        var stack: [UInt8] = []  // '{' or '['
        var expect = Expect.value
        while true {
            while i < n && Self.isWS(b[i]) { i += 1 }
            if i == n {
                if expect == .end {
                    v.wellFormed = true
                    return v
                }
                return fail("ends early")
            }
            let c = b[i]
            switch expect {
            case .end:
                return fail("trailing data")
            case .colon:
                guard c == 0x3A else { return fail("expected ':'") }
                i += 1
                expect = .value
            case .key, .keyOrClose:
                if c == 0x7D && expect == .keyOrClose {
                    i += 1
                    stack.removeLast()
                    expect = stack.isEmpty ? .end : .commaOrClose
                } else if c == 0x22 {
                    guard string() else { return fail("bad member name") }
                    expect = .colon
                } else {
                    return fail("expected a member name")
                }
            case .commaOrClose:
                let top = stack[stack.count - 1]
                if c == 0x2C {
                    i += 1
                    expect = top == 0x7B ? .key : .value
                } else if (c == 0x7D && top == 0x7B) || (c == 0x5D && top == 0x5B) {
                    i += 1
                    stack.removeLast()
                    expect = stack.isEmpty ? .end : .commaOrClose
                } else {
                    return fail("expected ',' or a closing bracket")
                }
            case .value, .valueOrClose:
                if c == 0x5D && expect == .valueOrClose {
                    i += 1
                    stack.removeLast()
                    expect = stack.isEmpty ? .end : .commaOrClose
                    continue
                }
                if stack.isEmpty && c == 0x7B { v.topLevelObject = true }
                switch c {
                case 0x7B, 0x5B:
                    stack.append(c)
                    if stack.count > v.maxDepth { v.maxDepth = stack.count }
                    i += 1
                    expect = c == 0x7B ? .keyOrClose : .valueOrClose
                    continue
                case 0x22:
                    guard string() else { return fail("bad string") }
                case 0x2D, 0x30...0x39:
                    guard number() else { return fail("bad number") }
                case 0x74:
                    guard literal("true") else { return fail("bad literal") }
                case 0x66:
                    guard literal("false") else { return fail("bad literal") }
                case 0x6E:
                    guard literal("null") else { return fail("bad literal") }
                default:
                    return fail("expected a value")
                }
                expect = stack.isEmpty ? .end : .commaOrClose
            }
        }
    }
}

// MARK: - Mutations

enum MutationKind: String, CaseIterable {
    case truncate, byteFlip, byteInsert, byteDelete, tokenNoise
    case wrongType, hugeString, hugeNumber, deepNesting, duplicateKey, invalidUTF8
    case gzipOfMutated, truncatedGzip, corruptGzip, gzipMembers
}

/// What a mutated input must produce.
enum Expectation {
    /// Invalid whenever `decoded` (the JSON document inside) is not well-formed.
    case oracle
    /// Always invalid (a truncated gzip stream).
    case invalid
    /// Either invalid, or exactly the report of the document it was made from
    /// (a damaged gzip stream whose damage zlib could not see, e.g. in MTIME).
    case invalidOrSameAs(IntegrityReport)
    /// Exactly this report (a document split into gzip members).
    case sameAs(IntegrityReport)
}

struct FuzzInput {
    var kind: MutationKind
    var bytes: [UInt8]
    /// The JSON document the bytes carry (after gzip), when known.
    var document: [UInt8]?
    var expectation: Expectation
    var note: String
}

enum Mutator {
    static let hugeStringBytes = 5 << 20
    static let deepBrackets = 100_000

    /// 5 MB of mixed ASCII, non-ASCII and escapes, as JSON string text (with quotes).
    static let hugeStringLiteral: [UInt8] = {
        var out: [UInt8] = [0x22]
        out.reserveCapacity(hugeStringBytes + 64)
        let pieces: [[UInt8]] = [
            Array("lorem ipsum ".utf8), Array("意識と心 ".utf8), Array("\\n\\\"\\u00e9 ".utf8),
            Array("🧠🧠 ".utf8), Array("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".utf8),
        ]
        var k = 0
        while out.count < hugeStringBytes {
            out += pieces[k % pieces.count]
            k += 1
        }
        out.append(0x22)
        return out
    }()

    static let hugeNumbers = [
        "1e999999", "-1e999999", "1E+99999999999999999999", "9223372036854775808",
        "-9223372036854775809", "1" + String(repeating: "0", count: 400),
        "0." + String(repeating: "0", count: 400) + "1", "-0", "-0.0e-0",
        "123456789012345678901234567890.5e-3", "4.9e-324", "2.5e-324", "1.7976931348623157e309",
    ]

    static let invalidUTF8: [[UInt8]] = [
        [0xC0, 0x80], [0xC1, 0xBF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xFE],
        [0x80], [0xBF, 0xBF], [0xE2, 0x82], [0xF0, 0x9F, 0xA7], [0xF4, 0x90, 0x80, 0x80], [0xE0, 0x80, 0xAF],
        [0xF8, 0x88, 0x80, 0x80, 0x80], [0xC2], [0xE2, 0x28, 0xA1],
    ]
    static let loneSurrogateEscapes = ["\\ud800", "\\udc00", "\\uD83D\\u0041", "\\uDBFF", "\\ud800\\ud800"]

    static let typeReplacements: [JSONValue] = [
        "a string", "", 42, .number("-1.5e3"), 0, .object([]), ["nested": [1, 2]], .array([]), ["x", nil],
        nil, true, false, ["concept_id": 7],
    ]

    /// One mutation of `document` (plain JSON bytes of a valid backup).
    static func mutate(
        _ document: [UInt8], tree: JSONValue, kind: MutationKind,
        rng: inout SeededGenerator, baseReport: @autoclosure () -> IntegrityReport
    ) -> FuzzInput {
        func plain(_ bytes: [UInt8], _ note: String) -> FuzzInput {
            FuzzInput(kind: kind, bytes: bytes, document: bytes, expectation: .oracle, note: note)
        }
        switch kind {
        case .truncate:
            let cut = rng.chance(0.2) ? rng.int(0...min(64, document.count)) : rng.int(0..<document.count)
            return plain(Array(document[..<cut]), "truncated to \(cut) of \(document.count) bytes")
        case .byteFlip:
            var out = document
            let flips = rng.int(1...8)
            for _ in 0..<flips {
                let p = rng.int(0..<out.count)
                out[p] = rng.chance(0.5) ? out[p] ^ UInt8(1 << rng.int(0...7)) : UInt8(truncatingIfNeeded: rng.next())
            }
            return plain(out, "\(flips) byte flips")
        case .byteInsert:
            var out = document
            let count = rng.int(1...8)
            for _ in 0..<count {
                let bytes = (0..<rng.int(1...4)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                out.insert(contentsOf: bytes, at: rng.int(0...out.count))
            }
            return plain(out, "\(count) random insertions")
        case .byteDelete:
            var out = document
            let count = rng.int(1...8)
            for _ in 0..<count where !out.isEmpty {
                let p = rng.int(0..<out.count)
                out.removeSubrange(p..<min(out.count, p + rng.pick([1, 1, 1, 2, 3, 17, 300])))
            }
            return plain(out, "\(count) deletions")
        case .tokenNoise:
            var out = document
            let tokens = [
                "{", "}", "[", "]", ",", ":", "\"", "\\", " ", "0", "-", "e", ".", "tru", "null", "nul",
                "\"data\":", "\"concepts\":[", ",,", "}}", "]]", "\u{0}", "\r\n",
            ]
            let count = rng.int(1...5)
            for _ in 0..<count {
                out.insert(contentsOf: Array(rng.pick(tokens).utf8), at: rng.int(0...out.count))
            }
            return plain(out, "\(count) token insertions")
        case .wrongType:
            var note = ""
            let mutated = replaceRandomNode(tree, rng: &rng) { old, rng in
                let choices = typeReplacements.filter { $0.kind != old.kind }
                let new = rng.pick(choices)
                note = "\(old.kind) → \(new.kind)"
                return new
            }
            return plain(mutated.jsonBytes, "wrong type: \(note)")
        case .hugeString:
            let marker = "\u{1}HUGE\u{1}"
            let mutated: JSONValue
            if rng.chance(0.2) {
                // A huge key.
                mutated = insertMember(tree, key: marker, value: 1, rng: &rng)
            } else {
                mutated = replaceRandomNode(tree, rng: &rng) { _, _ in .string(marker) }
            }
            return plain(splice(mutated.jsonBytes, marker: marker, with: hugeStringLiteral), "5 MB string")
        case .hugeNumber:
            var literal = rng.pick(hugeNumbers)
            if rng.chance(0.1) { literal = "1" + String(repeating: "7", count: 1 << 20) }  // 1 MB of digits
            let targeted = rng.chance(0.5)
            let mutated: JSONValue
            if targeted {
                let path = rng.pick([
                    ["statistics", "concepts"], ["schema_version"], ["statistics", "relationships"],
                    ["version"], ["data", "sources", "0", "paragraph"],
                ])
                mutated = setPath(tree, path, .number(JSONNumber(literal)))
            } else {
                mutated = replaceRandomNode(tree, rng: &rng) { _, _ in .number(JSONNumber(literal)) }
            }
            return plain(mutated.jsonBytes, "number \(literal.prefix(40))")
        case .deepNesting:
            let marker = "\u{1}DEEP\u{1}"
            let mutated = replaceRandomNode(tree, rng: &rng) { _, _ in .string(marker) }
            let depth = rng.chance(0.7) ? deepBrackets : rng.int(200...300)
            var nested: [UInt8]
            switch rng.int(0...3) {
            case 0: nested = [UInt8](repeating: 0x5B, count: depth) + [UInt8](repeating: 0x5D, count: depth)
            case 1: nested = [UInt8](repeating: 0x5B, count: depth)  // never closed
            case 2:
                nested =
                    Array(String(repeating: "{\"a\":", count: depth / 5).utf8) + [0x31]
                    + [UInt8](repeating: 0x7D, count: depth / 5)
            default: nested = Array(String(repeating: "[{\"k\":", count: depth / 6).utf8)
            }
            return plain(splice(mutated.jsonBytes, marker: marker, with: nested), "nesting depth ~\(depth)")
        case .duplicateKey:
            let (mutated, note) = duplicateKey(tree, rng: &rng)
            return plain(mutated.jsonBytes, "duplicate key \(note)")
        case .invalidUTF8:
            var out = document
            let stringStarts = document.indices.filter { document[$0] == 0x22 }
            let count = rng.int(1...3)
            for _ in 0..<count {
                let at = (rng.pick(stringStarts.isEmpty ? [0] : stringStarts) + 1) % (out.count + 1)
                let bytes = rng.chance(0.25) ? Array(rng.pick(loneSurrogateEscapes).utf8) : rng.pick(invalidUTF8)
                out.insert(contentsOf: bytes, at: min(at, out.count))
            }
            return plain(out, "\(count) invalid UTF-8 sequences")
        case .gzipOfMutated:
            let inner = rng.pick(MutationKind.allCases.filter { !$0.isGzip && $0 != .hugeString && $0 != .deepNesting })
            var mutated = mutate(document, tree: tree, kind: inner, rng: &rng, baseReport: baseReport())
            let doc = rng.chance(0.2) ? document : mutated.bytes
            mutated.bytes = gzip(doc, level: Int32(rng.int(0...9)))
            return FuzzInput(
                kind: kind, bytes: mutated.bytes, document: doc, expectation: .oracle,
                note: "gzip of (\(doc == document ? "the valid document" : "\(inner): \(mutated.note)"))")
        case .truncatedGzip:
            let compressed = gzip(document, level: Int32(rng.int(1...9)))
            let cut = rng.int(0..<compressed.count)
            return FuzzInput(
                kind: kind, bytes: Array(compressed[..<cut]), document: nil, expectation: .invalid,
                note: "gzip truncated to \(cut) of \(compressed.count) bytes")
        case .corruptGzip:
            var compressed = gzip(document, level: Int32(rng.int(1...9)))
            let flips = rng.int(1...4)
            var places: [Int] = []
            for _ in 0..<flips {
                let p = rng.chance(0.3) ? rng.int(0..<min(20, compressed.count)) : rng.int(0..<compressed.count)
                compressed[p] ^= UInt8(1 << rng.int(0...7))
                places.append(p)
            }
            if rng.chance(0.2) { compressed += [0, 0, 0, 0] }  // tape padding after the stream
            return FuzzInput(
                kind: kind, bytes: compressed, document: nil, expectation: .invalidOrSameAs(baseReport()),
                note: "gzip with bits flipped at \(places)")
        case .gzipMembers:
            // The document split into gzip members: as valid as the document itself.
            var members: [UInt8] = []
            var start = 0
            let parts = rng.int(2...5)
            for k in 0..<parts {
                let end = k == parts - 1 ? document.count : rng.int(start...document.count)
                members += gzip(Array(document[start..<end]), level: Int32(rng.int(0...9)))
                start = end
            }
            return FuzzInput(
                kind: kind, bytes: members, document: document, expectation: .sameAs(baseReport()),
                note: "\(parts) gzip members")
        }
    }

    static func gzip(_ bytes: [UInt8], level: Int32) -> [UInt8] {
        let compressor = try! GzipCompressor(level: level)
        return compressor.compress(bytes) + compressor.finish()
    }

    /// Replaces the marker string (as written by JSONValue, with its quotes) by raw bytes.
    static func splice(_ bytes: [UInt8], marker: String, with raw: [UInt8]) -> [UInt8] {
        let needle = JSONValue.string(marker).jsonBytes
        guard let at = find(needle, in: bytes) else { return bytes }
        return Array(bytes[..<at]) + raw + Array(bytes[(at + needle.count)...])
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        outer: for i in 0...(haystack.count - needle.count) {
            for k in 0..<needle.count where haystack[i + k] != needle[k] { continue outer }
            return i
        }
        return nil
    }

    /// Walks down from the root, going deeper with probability 3/4 at each
    /// container (so metadata, sections and record fields are all hit, not
    /// mostly the 1536 numbers of an embedding), and replaces the node reached.
    static func replaceRandomNode(
        _ value: JSONValue, rng: inout SeededGenerator,
        _ replace: (JSONValue, inout SeededGenerator) -> JSONValue
    ) -> JSONValue {
        switch value {
        case .object(var members) where !members.isEmpty && rng.chance(0.85):
            let k = rng.int(0..<members.count)
            members[k].value = replaceRandomNode(members[k].value, rng: &rng, replace)
            return .object(members)
        case .array(var elements) where !elements.isEmpty && rng.chance(0.75):
            let k = rng.int(0..<elements.count)
            elements[k] = replaceRandomNode(elements[k], rng: &rng, replace)
            return .array(elements)
        default:
            return replace(value, &rng)
        }
    }

    static func setPath(_ value: JSONValue, _ path: [String], _ new: JSONValue) -> JSONValue {
        guard let first = path.first else { return new }
        switch value {
        case .object(var members):
            if let k = members.lastIndex(where: { $0.key == first }) {
                members[k].value = setPath(members[k].value, Array(path.dropFirst()), new)
            }
            return .object(members)
        case .array(var elements):
            if let k = Int(first), elements.indices.contains(k) {
                elements[k] = setPath(elements[k], Array(path.dropFirst()), new)
            }
            return .array(elements)
        default:
            return value
        }
    }

    static func insertMember(_ value: JSONValue, key: String, value new: JSONValue, rng: inout SeededGenerator) -> JSONValue {
        guard case .object(var members) = value else { return value }
        if let k = members.indices.filter({ members[$0].value.kind == .object }).randomElement(using: &rng), rng.chance(0.5) {
            members[k].value = insertMember(members[k].value, key: key, value: new, rng: &rng)
        } else {
            members.insert((key: key, value: new), at: rng.int(0...members.count))
        }
        return .object(members)
    }

    /// Duplicates a member of some object: top-level keys, `data` sections,
    /// record fields; sometimes with a value of another type.
    static func duplicateKey(_ tree: JSONValue, rng: inout SeededGenerator) -> (JSONValue, String) {
        var note = ""
        func dup(_ value: JSONValue, depth: Int, rng: inout SeededGenerator) -> JSONValue {
            switch value {
            case .object(var members) where !members.isEmpty:
                let k = rng.int(0..<members.count)
                if depth < 4 && rng.chance(0.5), members[k].value.kind == .object || members[k].value.kind == .array {
                    members[k].value = dup(members[k].value, depth: depth + 1, rng: &rng)
                    return .object(members)
                }
                var copy = members[k]
                if rng.chance(0.3) { copy.value = rng.pick(typeReplacements) }
                note = "\"\(copy.key)\""
                members.insert(copy, at: rng.int(0...members.count))
                return .object(members)
            case .array(var elements) where !elements.isEmpty:
                let k = rng.int(0..<min(elements.count, 4))
                elements[k] = dup(elements[k], depth: depth + 1, rng: &rng)
                return .array(elements)
            default:
                return value
            }
        }
        return (dup(tree, depth: 0, rng: &rng), note)
    }
}

extension MutationKind {
    /// How often each kind is drawn, relative to 1: the expensive ones (5 MB,
    /// 100k brackets) less often; `testADeepNestingHugeValuesAndDuplicates` covers them every run.
    var weight: Double {
        switch self {
        case .hugeString: return 0.3
        case .deepNesting: return 0.5
        default: return 1
        }
    }

    static func draw(_ rng: inout SeededGenerator) -> MutationKind {
        let total = allCases.reduce(0) { $0 + $1.weight }
        var x = Double.random(in: 0..<total, using: &rng)
        for kind in allCases {
            x -= kind.weight
            if x < 0 { return kind }
        }
        return .truncate
    }

    var isGzip: Bool { [.gzipOfMutated, .truncatedGzip, .corruptGzip, .gzipMembers].contains(self) }
}

// MARK: - Process measurements

enum ProcessStatus {
    /// A `Vm…:` line of /proc/self/status in kB.
    static func kilobytes(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// Resets VmHWM to the current RSS (Linux ≥ 4.0); false when not possible.
    static func resetPeak() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do {
            try handle.write(contentsOf: Data("5".utf8))
            return true
        } catch {
            return false
        }
    }
}
