import Foundation
import KGDatabase
import KGFormat
import KGDatabase

/// Generates a deterministic, realistic sample graph and streams it into the
/// database with COPY (nothing is held in memory but one row).
///
/// Realistic means: 1536-dimension embeddings with full-precision numbers,
/// paragraphs with non-ASCII text, quotes, backslashes, tabs and newlines,
/// instances evidencing one to three concepts, built-in and custom relationship
/// types, duplicate edges between one pair, several ontologies and edges across them.
///
/// ```swift
/// let stats = try SampleGraphLoader(spec: SampleGraphSpec(concepts: 500)).load(into: db)
/// ```
public struct SampleGraphLoader {
    public let spec: SampleGraphSpec
    /// The schema version of the target database: older schemas get the older
    /// column shapes (used to produce fixture backups from older migrations).
    public let schemaVersion: Int

    public init(spec: SampleGraphSpec, schemaVersion: Int = SchemaConverters.latestVersion) {
        self.spec = spec
        self.schemaVersion = schemaVersion
    }

    static let customTypes: [(String, String, [String]?)] = [
        ("INSPIRED_BY", "Source draws on the target's ideas.", ["influenced_by", "draws_on"]),
        ("CRITIQUES", "Source argues against the target.", nil),
        ("TRANSLATES_TO", "Source is rendered as the target in another language — «traduction».", ["renders_as"]),
        ("BUILDS_ON", "Source extends the target.", ["extends", "elaborates \"on\""]),
    ]

    static let builtinSample = [
        "IMPLIES", "CAUSES", "ENABLES", "PART_OF", "SUPPORTS", "SIMILAR_TO", "PRECEDES", "REQUIRES", "CONTRADICTS", "DEFINED_AS",
    ]

    static let words = [
        "knowledge", "graph", "concept", "evidence", "memory", "perception", "causality", "system", "feedback",
        "emergence", "cell", "membrane", "protein", "signal", "market", "price", "entropy", "field", "wave",
        "naïve", "café", "Übermensch", "façade", "résumé", "straße", "δομή", "σύστημα", "知識", "概念", "グラフ",
        "🧠", "→", "“quoted”", "\"literal\"", "back\\slash", "tab\there", "50%", "{braces}", "a,b", "O'Brien",
    ]

    /// Empties the graph tables and loads the sample in one transaction.
    @discardableResult
    public func load(into db: PGConnection) throws -> SampleGraphStats {
        try db.transaction {
            try db.execute(
                """
                DELETE FROM kg.relationships; DELETE FROM kg.evidence; DELETE FROM kg.instances;
                DELETE FROM kg.sources; DELETE FROM kg.concepts; DELETE FROM kg.ontologies;
                DELETE FROM kg.vocabulary WHERE NOT is_builtin;
                """)
            return try generate(db)
        }
    }

    private func generate(_ db: PGConnection) throws -> SampleGraphStats {
        var rng = SplitMix64(seed: spec.seed)
        var stats = SampleGraphStats()
        var row: [UInt8] = []
        row.reserveCapacity(64 * 1024)

        func send(_ writer: CopyInWriter) throws {
            row.append(0x0A)
            try writer.write(row)
            row.removeAll(keepingCapacity: true)
        }
        func field(_ text: String?) {
            if let text { CopyText.appendField(text, to: &row) } else { row.append(contentsOf: CopyText.null) }
        }
        func tab() { row.append(0x09) }

        // Ontologies.
        var writer = try db.copyIn("COPY kg.ontologies (name) FROM STDIN")
        for o in 0..<spec.ontologies {
            field(spec.ontologyName(o)); try send(writer)
            stats.ontologies += 1
        }
        try writer.finish()

        // Custom vocabulary.
        writer = try db.copyIn(
            "COPY kg.vocabulary (relationship_type, description, category, added_by, added_at, usage_count, is_builtin, synonyms, embedding_model, embedding) FROM STDIN"
        )
        for (index, entry) in Self.customTypes.enumerated() {
            field(entry.0); tab(); field(entry.1); tab(); field("custom"); tab(); field("sample-generator"); tab()
            field("2025-10-0\(index + 1)T12:00:00Z"); tab(); field(String(index * 7)); tab(); field("false"); tab()
            if schemaVersion >= 3 {
                field(entry.2.map(CopyText.textArray))
            } else {
                // Before v3 synonyms were a JSON value, in the platform's assorted forms.
                let forms = ["[\"influenced_by\", \"draws_on\"]", "\"null\"", "\"[\\\"renders_as\\\"]\"", "[]"]
                field(forms[index % forms.count])
            }
            tab()
            field(index % 2 == 0 ? "text-embedding-3-small" : nil); tab()
            if index % 2 == 0 {
                CopyText.appendDoubleArray((0..<8).map { _ in Self.number(&rng) }, to: &row)
            } else {
                field(nil)
            }
            try send(writer)
            stats.vocabulary += 1
        }
        try writer.finish()

        // Concepts.
        let withCreatedAt = schemaVersion >= 4
        writer = try db.copyIn(
            "COPY kg.concepts (concept_id, label, description, search_terms, embedding\(withCreatedAt ? ", created_at" : "")) FROM STDIN")
        for c in 0..<spec.concepts {
            field(conceptID(c)); tab()
            field(Self.phrase(&rng, words: 2 + Int(rng.next() % 3)).capitalized); tab()
            field(c % 5 == 0 ? nil : Self.phrase(&rng, words: 8 + Int(rng.next() % 12))); tab()
            field(CopyText.textArray((0..<Int(rng.next() % 4)).map { _ in Self.phrase(&rng, words: 1 + Int(rng.next() % 2)) })); tab()
            CopyText.appendDoubleArray((0..<spec.embeddingDimensions).map { _ in Self.number(&rng) }, to: &row)
            if withCreatedAt {
                tab()
                field(c % 7 == 3 ? nil : "2025-0\(1 + c % 9)-1\(c % 10)T0\(c % 10):1\(c % 6):00Z")
            }
            try send(writer)
            stats.concepts += 1
        }
        try writer.finish()

        // Sources: paragraphs of documents; source s belongs to ontology s % O.
        writer = try db.copyIn(
            "COPY kg.sources (source_id, document, paragraph, full_text, file_path, content_type, garage_key, storage_key) FROM STDIN")
        for s in 0..<spec.sources {
            let ontology = s % spec.ontologies
            field(sourceID(s)); tab(); field(spec.ontologyName(ontology)); tab()
            field(String(s / spec.ontologies + 1)); tab()
            field(
                (0..<(3 + Int(rng.next() % 4))).map { _ in Self.phrase(&rng, words: 12 + Int(rng.next() % 20)) + "." }.joined(
                    separator: s % 7 == 0 ? "\n\n" : " "));
            tab()
            field(s % 9 == 0 ? nil : "docs/\(Self.pathComponent(spec.ontologyName(ontology)))/chapter-\(s % 13).md"); tab()
            field(s % 3 == 0 ? "text/markdown" : nil); tab()
            field(s % 4 == 0 ? "garage/\(sourceID(s))" : nil); tab()
            field(s % 6 == 0 ? "store/\(s)" : nil)
            try send(writer)
            stats.sources += 1
        }
        try writer.finish()

        // Instances (quotes) and the concepts they evidence. Instance k evidences
        // concept k first (so every concept is evidenced), from a source of that
        // concept's ontology, plus up to two others, sometimes from another ontology.
        let perOntology = spec.sources / spec.ontologies
        writer = try db.copyIn("COPY kg.instances (instance_id, quote, source_id) FROM STDIN")
        // Evidence links are small (two ids); they are collected and sent after
        // the instances because one connection runs one COPY at a time.
        // (Kept in a temp file past 4 MB: ten million concepts make ~20 million links.)
        var evidenceRows: [UInt8] = []
        let spill = FileManager.default.temporaryDirectory.appendingPathComponent("kg-sample-evidence-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: spill.path, contents: nil), let spillFile = try? FileHandle(forUpdating: spill) else {
            throw CocoaError(.fileWriteUnknown)
        }
        unlink(spill.path)  // the handle keeps it until closed
        defer { try? spillFile.close() }
        for k in 0..<spec.instances {
            let concept = k % spec.concepts
            let ontology = concept % spec.ontologies
            let source = ontology + spec.ontologies * Int(rng.next() % UInt64(max(1, perOntology)))
            field(instanceID(k)); tab()
            field("“" + Self.phrase(&rng, words: 6 + Int(rng.next() % 14)) + "”"); tab()
            field(sourceID(min(source, spec.sources - 1)))
            try send(writer)
            stats.instances += 1
            var evidenced = [concept]
            for _ in 0..<Int(rng.next() % 3) {
                let other = Int(rng.next() % UInt64(spec.concepts))
                if !evidenced.contains(other) { evidenced.append(other) }
            }
            for c in evidenced {
                evidenceRows.append(contentsOf: "\(instanceID(k))\t\(conceptID(c))\n".utf8)
                stats.evidence += 1
            }
            if evidenceRows.count >= 4 << 20 {
                try spillFile.write(contentsOf: evidenceRows)
                evidenceRows.removeAll(keepingCapacity: true)
            }
        }
        try writer.finish()
        writer = try db.copyIn("COPY kg.evidence (instance_id, concept_id) FROM STDIN")
        try spillFile.write(contentsOf: evidenceRows)
        try spillFile.seek(toOffset: 0)
        while let chunk = try spillFile.read(upToCount: 1 << 20), !chunk.isEmpty {
            try writer.write([UInt8](chunk))
        }
        try writer.finish()

        // Relationships: built-in and custom types, properties or {}, ~1% duplicate edges.
        writer = try db.copyIn("COPY kg.relationships (from_concept_id, to_concept_id, relationship_type, properties) FROM STDIN")
        var previous: (Int, Int, String)?
        for r in 0..<spec.relationships {
            var edge: (Int, Int, String)
            if r % 97 == 5, let previous {
                edge = previous
            } else {
                let from = r % spec.concepts
                let to = Int(rng.next() % UInt64(spec.concepts))
                let type =
                    rng.next() % 5 == 0
                    ? Self.customTypes[Int(rng.next() % UInt64(Self.customTypes.count))].0
                    : Self.builtinSample[Int(rng.next() % UInt64(Self.builtinSample.count))]
                edge = (from, to, type)
            }
            previous = edge
            field(conceptID(edge.0)); tab(); field(conceptID(edge.1)); tab(); field(edge.2); tab()
            if r % 4 == 0 {
                field("{}")
            } else {
                let confidence = Double(rng.next() % 1000) / 1000
                field(
                    "{\"confidence\": \(confidence), \"category\": \"sample\", \"source\": \"llm-extraction\", \"created_at\": \"2025-10-08T12:30:45Z\", \"note\": \"edge \\\"\(r)\\\" — ok\"}"
                )
            }
            try send(writer)
            stats.relationships += 1
        }
        try writer.finish()
        try db.execute("ANALYZE kg.concepts; ANALYZE kg.sources; ANALYZE kg.instances; ANALYZE kg.evidence; ANALYZE kg.relationships")
        return stats
    }

    /// Ontology text as a lower-case path component, for sample file paths.
    static func pathComponent(_ text: String) -> String {
        String(text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    func conceptID(_ i: Int) -> String { id("concept_", 1, i) }
    func sourceID(_ i: Int) -> String { id("src_", 2, i) }
    func instanceID(_ i: Int) -> String { id("inst_", 3, i) }

    /// `concept_000042`, or a UUID-style id unique per kind and index (version-4 layout).
    private func id(_ prefix: String, _ kind: UInt64, _ i: Int) -> String {
        switch spec.idStyle {
        case .sequential:
            return prefix + String(format: "%06d", i)
        case .uuid:
            var rng = SplitMix64(seed: spec.seed &* 31 &+ kind &* 0x9E37_79B9 &+ UInt64(i) &* 0x1_0000_0001)
            let high = rng.next(), low = UInt64(i) << 4 | kind  // the index in the low bits keeps ids distinct
            let hex = { (v: UInt64, digits: Int) in
                let text = String(v, radix: 16)
                return String(repeating: "0", count: max(0, digits - text.count)) + text.suffix(digits)
            }
            return hex(high >> 32, 8) + "-" + hex((high >> 16) & 0xFFFF, 4) + "-4" + hex(high & 0xFFF, 3) + "-"
                + hex(0x8000 | (low >> 48) & 0x3FFF, 4) + "-" + hex(low & 0xFFFF_FFFF_FFFF, 12)
        }
    }

    static func phrase(_ rng: inout SplitMix64, words count: Int) -> String {
        (0..<count).map { _ in words[Int(rng.next() % UInt64(words.count))] }.joined(separator: " ")
    }

    /// A value like an embedding component: full double precision in [-1, 1).
    static func number(_ rng: inout SplitMix64) -> Double {
        Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1
    }
}
