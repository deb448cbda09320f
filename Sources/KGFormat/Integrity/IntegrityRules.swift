#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The integrity rules of BACKUP_FORMAT.md, applied to reader events one at a time.
///
/// Memory is bounded: the per-id checks (duplicate ids, references, the records
/// naming missing concepts) go to ``IDFacts``, which keeps a budget in memory
/// and spills to temp storage past it, and are answered exactly at the end,
/// because sections may come in any order. What stays in memory is per section,
/// per relationship type, per vocabulary entry and per ontology name, and the
/// capped findings.
struct IntegrityRules {
    static let requiredSections = ["concepts", "sources", "instances", "relationships"]
    static let countedSections = ["concepts", "sources", "instances", "relationships", "vocabulary", "ontologies"]
    /// The `producer.name` of files written by this system (BACKUP_FORMAT.md).
    static let kgProducer = "kg"
    /// The top-level keys the rules and the report read. Values of other keys
    /// are not kept: a file may carry any number of them, of any size.
    static let keptMetadata: Set<String> = ["version", "type", "timestamp", "ontology", "schema_version", "producer", "statistics"]
    /// Sections the format does not know are still counted, but only the first
    /// this many names: a file may name any number of them.
    static let maxUnknownSections = 64

    private var log = FindingLog()

    // Top level
    private var metadata: [String: JSONValue] = [:]
    private var sawData = false
    private var dataIsObject = false

    // Sections
    private var sectionsAsArray: Set<String> = []
    private var sectionsNotArray: Set<String> = []
    private var counts: [String: Int] = [:]
    private var unknownSections = 0

    // Ids and references (concepts, sources, instances): see ``IDFacts``.
    private let facts: IDFacts
    /// Records read so far, all sections: the position of findings in the file.
    private var recordOrdinal: UInt64 = 0

    /// - Parameters:
    ///   - idMemoryBytes: memory for the id checks before they spill to `tempDirectory`.
    ///   - tempDirectory: where the id checks' temp file goes (created only past the budget, unlinked at once).
    init(idMemoryBytes: Int = IDLedger.defaultBudgetBytes, tempDirectory: String = IntegrityRules.systemTempDirectory) {
        facts = IDFacts(budgetBytes: idMemoryBytes, directory: tempDirectory, shown: FindingLog().cap)
    }

    /// `TMPDIR`, or `/tmp`.
    static var systemTempDirectory: String {
        if let dir = getenv("TMPDIR").map({ String(cString: $0) }), !dir.isEmpty { return dir }
        return "/tmp"
    }
    /// Instances with `"concept_id": null` (kg's files carry instances that evidence no
    /// concept that way; the platform's never do): the first few, and how many.
    private var conceptlessInstances: [String] = []
    private var conceptlessInstanceCount = 0
    private var ontologyNames: Set<String> = []

    // Vocabulary
    private var vocabularyTypes: Set<String> = []
    private var typeUses: [String: Int] = [:]
    private var typeOrder: [String] = []
    private var typePositions: [String: Int] = [:]

    // Reading
    private var sawEvent = false
    private var ended = false
    private var failure: String?
    private var refusedSecondData = false

    // MARK: - Events

    mutating func observe(_ event: BackupEvent) {
        guard failure == nil else { return }
        sawEvent = true
        log.at = recordOrdinal << 2
        switch event {
        case .metadata(let key, let value):
            guard Self.keptMetadata.contains(key) else { break }
            if metadata[key] != nil {
                // Which one counts would depend on the reader: the worker plans a restore from
                // the metadata before `data` and the whole file's check keeps the last, so a
                // second `schema_version` after `data` made an accepted file fail in the worker.
                log.add(
                    .error, .format, "the top-level key \"\(key)\" is given twice; a backup gives each once",
                    kind: "top-level keys given twice")
            }
            metadata[key] = value
        case .dataStart:
            refuseSecondData()
            sawData = true
            dataIsObject = true
        case .dataNotObject(let kind):
            refuseSecondData()
            sawData = true
            log.add(
                .error, .format, "\"data\" is \(kind), not an object holding the sections \(Self.requiredSections.joined(separator: ", "))",
                kind: "\"data\" values that are not objects")
        case .sectionStart(let name):
            if isTracked(name) {
                sectionsAsArray.insert(name)
                counts[name, default: 0] += 0
            }
        case .record(let section, let index, let value):
            // Counted as they come, so a file that breaks off still says how far it got.
            if isTracked(section) { counts[section, default: 0] += 1 }
            checkRecord(section, index, value, seq: recordOrdinal)
            recordOrdinal += 1
        case .sectionEnd:
            break
        case .sectionNotArray(let name, let kind):
            if Self.countedSections.contains(name) {
                sectionsNotArray.insert(name)
                log.add(.error, .format, "data.\(name) is \(kind), not an array of records", kind: "data.\(name) values that are not arrays")
            }
        case .dataEnd:
            break
        case .end:
            ended = true
        }
    }

    /// A second `data` (system fuzz seed 2173006564768885198: a copy of `data` before the
    /// metadata left the worker's header peek, which reads up to the first `data`, without a
    /// `version`, and an accepted file failed in the worker).
    private mutating func refuseSecondData() {
        guard sawData, !refusedSecondData else { return }
        refusedSecondData = true
        log.add(.error, .format, "the top-level key \"data\" is given twice; a backup gives each once", kind: "top-level keys given twice")
    }

    /// Whether a section's count is kept: always for the format's sections,
    /// for the first `maxUnknownSections` names of others.
    private mutating func isTracked(_ name: String) -> Bool {
        if Self.countedSections.contains(name) || counts[name] != nil { return true }
        guard unknownSections < Self.maxUnknownSections else { return false }
        unknownSections += 1
        return true
    }

    /// The document could not be read to its end (not JSON, truncated, gzip
    /// damaged, unreadable file). Later events are ignored.
    mutating func fail(_ message: String) {
        guard failure == nil else { return }
        failure = message
    }

    // MARK: - Records

    /// Findings within one record are placed at `seq << 2`, then `| 1` for those
    /// of ``IDFacts`` (duplicates, disagreeing rows), then `| 2` for the rest.
    private mutating func checkRecord(_ section: String, _ index: Int, _ value: JSONValue, seq: UInt64) {
        guard Self.countedSections.contains(section) else { return }  // unknown sections are not ours to judge
        let place = "data.\(section)[\(index)]"
        guard case .object = value else {
            log.add(.error, .format, "\(place) is \(value.kind), not an object", kind: "\(section) records that are not objects")
            return
        }
        if let field = Self.pathToNUL(value) {
            // PostgreSQL text and jsonb cannot hold U+0000: the restore's COPY would fail.
            log.add(
                .error, .format, "\(place)\(field) holds the character U+0000 (\\u0000), which the database cannot store",
                kind: "records holding U+0000")
        }
        for found in RecordValueRules.problems(section: section, record: value) {
            let id = Self.idKeys[section].flatMap { value[$0]?.stringValue }.map { " (\($0))" } ?? ""
            log.add(.error, .format, "\(place)\(id): \(found.field) \(found.problem)", kind: "records with values the database cannot store")
        }
        switch section {
        case "concepts":
            guard let id = nonEmptyString(value["concept_id"]) else {
                log.add(.error, .format, "\(place) has no concept_id", kind: "concepts without concept_id")
                return
            }
            facts.conceptDefined(id, index: index, seq: seq)
        case "sources":
            guard let id = nonEmptyString(value["source_id"]) else {
                log.add(.error, .format, "\(place) has no source_id", kind: "sources without source_id")
                return
            }
            facts.sourceDefined(id, index: index, seq: seq)
        case "instances":
            let name = nonEmptyString(value["instance_id"]).map { "instance \($0)" } ?? "instance at \(place)"
            if let id = nonEmptyString(value["instance_id"]) {
                var hasher = Hasher()
                if let long = value["quote"]?.largeStringValue {  // a long quote: its length and hash
                    hasher.combine(long.byteCount)
                    hasher.combine(long.contentHash)
                } else {
                    hasher.combine(value["quote"]?.stringValue ?? "")
                }
                hasher.combine(value["source_id"]?.stringValue)
                facts.instanceRow(id, index: index, seq: seq, rowHash: UInt64(UInt(bitPattern: hasher.finalize())))
            } else {
                log.add(.error, .format, "\(place) has no instance_id", kind: "instances without instance_id")
            }
            log.at = seq << 2 | 2
            let concept = nonEmptyString(value["concept_id"])
            let source = nonEmptyString(value["source_id"])
            facts.instanceNames(concept: concept, source: source, index: index, seq: seq)
            if concept == nil {
                if case .null? = value["concept_id"] {
                    // Valid in kg's files only; the producer may come after the data, so judged at the end.
                    conceptlessInstanceCount += 1
                    if conceptlessInstances.count < 5 { conceptlessInstances.append("\(name) (\(place))") }
                } else {
                    log.add(.error, .references, "\(name) (\(place)) has no concept_id", kind: "instances without concept_id")
                }
            }
            if source == nil {
                log.add(.error, .references, "\(name) (\(place)) has no source_id", kind: "instances without source_id")
            }
        case "relationships":
            let from = nonEmptyString(value["from"])
            let to = nonEmptyString(value["to"])
            let type = nonEmptyString(value["type"])
            if from == nil {
                log.add(.error, .references, "\(place) has no \"from\" concept", kind: "relationships without an end")
            }
            if to == nil {
                log.add(.error, .references, "\(place) has no \"to\" concept", kind: "relationships without an end")
            }
            var typePosition: Int?
            if let type {
                if typeUses[type] == nil {
                    typePositions[type] = typeOrder.count
                    typeOrder.append(type)
                }
                typeUses[type, default: 0] += 1
                typePosition = typePositions[type]
            } else {
                // A restore cannot create an edge without a label.
                log.add(.error, .format, "\(place) has no relationship type", kind: "relationships without a type")
            }
            facts.relationship(from: from, to: to, type: typePosition, index: index, seq: seq)
        case "vocabulary":
            if let type = nonEmptyString(value["relationship_type"]) {
                if !vocabularyTypes.insert(type).inserted {
                    log.add(
                        .error, .vocabulary,
                        "relationship type \(type) is listed more than once in the vocabulary (again at \(place)); a restore cannot load both",
                        kind: "duplicate vocabulary types")
                }
            } else {
                log.add(.error, .format, "\(place) has no relationship_type", kind: "vocabulary rows without relationship_type")
            }
        case "ontologies":
            guard let name = nonEmptyString(value["name"]) else {
                log.add(.error, .format, "\(place) has no name", kind: "ontologies without a name")
                return
            }
            if !ontologyNames.insert(name).inserted {
                log.add(
                    .error, .references, "ontology \(name) is listed more than once (again at \(place)); a restore cannot load both",
                    kind: "duplicate ontologies")
            }
        default:
            break
        }
    }

    static let idKeys = [
        "instances": "instance_id", "concepts": "concept_id", "sources": "source_id",
        "vocabulary": "relationship_type", "ontologies": "name",
    ]

    /// See ``JSONValue/pathToNUL``.
    static func pathToNUL(_ value: JSONValue) -> String? { value.pathToNUL }

    private func nonEmptyString(_ value: JSONValue?) -> String? {
        guard let s = value?.stringValue, !s.isEmpty else { return nil }
        return s
    }

    // MARK: - Report

    func report() -> IntegrityReport {
        var log = self.log
        // The id checks, in file order among the findings made while reading.
        let ids = facts.outcome(typeNames: typeOrder)
        if ids.failure == nil {
            log.addPlaced(
                .error, .references, ids.duplicateConcepts.first.map { ($0.seq << 2 | 1, $0.message) },
                total: ids.duplicateConcepts.total, kind: "duplicate concept ids")
            log.addPlaced(
                .error, .references, ids.duplicateSources.first.map { ($0.seq << 2 | 1, $0.message) },
                total: ids.duplicateSources.total, kind: "duplicate source ids")
            log.addPlaced(
                .error, .consistency, ids.disagreeingInstances.first.map { ($0.seq << 2 | 1, $0.message) },
                total: ids.disagreeingInstances.total, kind: "instances whose rows disagree")
        }
        log.at = .max
        var externalDeps = 0
        var externalReferences = IntegrityReport.ExternalReferences.none
        let type = metadata["type"]?.stringValue

        if let failure = ids.failure {
            log.add(.error, .format, failure)
            log.add(.info, .info, "the checks of ids and references (duplicates, missing concepts and sources) were not made")
        } else if let failure {
            log.add(.error, .format, failure)
            if sawEvent {
                log.add(.info, .info, "checks that need the whole file (references, statistics) were skipped because it could not be read to the end")
            }
        } else if !ended {
            log.add(.error, .format, "the document was not read to its end")
        } else {
            checkTopLevel(&log)
            if dataIsObject { checkSections(&log) }
            if dataIsObject {
                (externalDeps, externalReferences) = checkReferences(&log, ids, ontologyBackup: type == "ontology_backup")
            }
            if dataIsObject { checkVocabulary(&log) }
            if dataIsObject { checkStatistics(&log) }
        }

        let all = log.closed()
        let producer = metadata["producer"].flatMap { value -> IntegrityReport.Producer? in
            guard case .object = value else { return nil }
            return IntegrityReport.Producer(name: value["name"]?.stringValue, version: value["version"]?.stringValue)
        }
        return IntegrityReport(
            errors: all.filter { $0.severity == .error },
            warnings: all.filter { $0.severity == .warning },
            info: all.filter { $0.severity == .info },
            externalDeps: externalDeps,
            externalReferences: externalReferences,
            statistics: metadata["statistics"],
            counts: counts.filter { sectionsAsArray.contains($0.key) },
            backupType: type,
            ontology: metadata["ontology"]?.stringValue,
            version: metadata["version"]?.stringValue,
            schemaVersion: metadata["schema_version"]?.intValue,
            producer: producer,
            timestamp: metadata["timestamp"]?.stringValue)
    }

    private func checkTopLevel(_ log: inout FindingLog) {
        let missing = ["version", "type", "data", "statistics"].filter { $0 == "data" ? !sawData : metadata[$0] == nil }
        if !missing.isEmpty {
            log.add(.error, .format, "missing top-level key\(missing.count == 1 ? "" : "s"): \(missing.joined(separator: ", "))")
        }
        if let version = metadata["version"] {
            if (version.stringValue ?? "").isEmpty {
                log.add(.error, .format, "\"version\" must be a non-empty string such as \"1.0\", found \(describeValue(version))")
            }
        }
        if let type = metadata["type"] {
            if type.stringValue != "full_backup" && type.stringValue != "ontology_backup" {
                log.add(.error, .format, "\"type\" must be \"full_backup\" or \"ontology_backup\", found \(describeValue(type))")
            }
            if type.stringValue == "ontology_backup" && (metadata["ontology"]?.stringValue ?? "").isEmpty {
                log.add(.warning, .externalDeps, "an ontology backup without an ontology name: which ontology it holds is unknown")
            }
        }
        if let timestamp = metadata["timestamp"] {
            if !(timestamp.stringValue.map(Self.isUTCTimestamp) ?? false) {
                log.add(.warning, .format, "\"timestamp\" should be a UTC ISO-8601 time ending in Z, found \(describeValue(timestamp))")
            }
        } else {
            // The required-keys sentence of the format lists it, but the rule
            // specific to it makes a missing timestamp a warning.
            log.add(.warning, .format, "no \"timestamp\": when the backup was made is unknown")
        }
        if let schema = metadata["schema_version"], schema.intValue == nil {
            log.add(.warning, .format, "\"schema_version\" should be an integer, found \(describeValue(schema))")
        }
        if let statistics = metadata["statistics"], statistics.kind != .object {
            log.add(.error, .format, "\"statistics\" is \(statistics.kind), not an object of counts")
        }
    }

    private func checkSections(_ log: inout FindingLog) {
        for name in Self.requiredSections where !sectionsAsArray.contains(name) && !sectionsNotArray.contains(name) {
            log.add(.error, .format, "data has no \"\(name)\" section")
        }
        let allPresent = Self.requiredSections.allSatisfy { sectionsAsArray.contains($0) }
        if allPresent && Self.requiredSections.allSatisfy({ counts[$0] == 0 }) {
            log.add(.warning, .consistency, "no data: concepts, sources, instances and relationships are all empty")
        }
    }

    /// Returns the number of external dependencies and the records naming
    /// them (ontology backups only; zero otherwise).
    private func checkReferences(
        _ log: inout FindingLog, _ ids: IDFacts.Outcome,
        ontologyBackup: Bool
    ) -> (Int, IntegrityReport.ExternalReferences) {
        let none = IntegrityReport.ExternalReferences.none
        if conceptlessInstanceCount > 0 && metadata["producer"]?["name"]?.stringValue != Self.kgProducer {
            // Only kg's files (the producer marker) say "an instance evidencing no concept" with null.
            for name in conceptlessInstances {
                log.add(.error, .references, "\(name) has no concept_id", kind: "instances without concept_id")
            }
            if conceptlessInstanceCount > conceptlessInstances.count {
                log.add(.error, .references, "... and \(conceptlessInstanceCount - conceptlessInstances.count) more instances without concept_id")
            }
        }
        // A missing sources or concepts section has its own error; naming
        // every reference into it would only bury that.
        if sectionsAsArray.contains("sources") {
            log.addPlaced(
                .error, .references,
                ids.missingSources.first.map {
                    (.max, "\(ids.referrers[$0.seq] ?? "?") names source \($0.id), which the file does not contain")
                }, total: ids.missingSources.total, kind: "references to sources the file does not contain")
        }
        let missingCount = ids.missingConcepts.total
        guard missingCount > 0, sectionsAsArray.contains("concepts") else { return (0, none) }
        if ontologyBackup {
            let missingConcepts = ids.missingConcepts.first.map(\.id)
            let examples = missingConcepts.prefix(5).joined(separator: ", ") + (missingCount > 5 ? ", ..." : "")
            log.add(
                .warning, .externalDeps,
                "\(missingCount) concept\(missingCount == 1 ? "" : "s") named by instances or relationships \(missingCount == 1 ? "is" : "are") not in this backup (external dependencies: \(examples))"
            )
            log.add(
                .info, .externalDeps,
                "a restore connects the references whose concepts the database holds; the rest are dropped (--external-deps prune, the default), refused (fail) or kept aside until their concepts arrive (defer, stitch)"
            )
            return (
                missingCount,
                IntegrityReport.ExternalReferences(instances: ids.instancesNamingMissing, relationships: ids.relationshipsNamingMissing)
            )
        }
        log.addPlaced(
            .error, .references,
            ids.missingConcepts.first.map {
                (.max, "\(ids.referrers[$0.seq] ?? "?") names concept \($0.id), which the file does not contain")
            }, total: missingCount, kind: "references to concepts the file does not contain")
        return (0, none)
    }

    private func checkVocabulary(_ log: inout FindingLog) {
        let hasVocabulary = sectionsAsArray.contains("vocabulary")
        for type in typeOrder {
            let uses = typeUses[type] ?? 0
            let usedBy = "used by \(uses) relationship\(uses == 1 ? "" : "s")"
            if BuiltinRelationshipTypes.structuralEdgeNames.contains(type) {
                log.add(
                    .warning, .vocabulary, "relationship type \(type) (\(usedBy)) is a structural edge name, never a relationship type",
                    kind: "unknown relationship types")
            } else if hasVocabulary ? !vocabularyTypes.contains(type) : !BuiltinRelationshipTypes.names.contains(type) {
                log.add(
                    .warning, .vocabulary,
                    hasVocabulary
                        ? "relationship type \(type) (\(usedBy)) is not in the file's vocabulary"
                        : "relationship type \(type) (\(usedBy)) is not a built-in type, and the file has no vocabulary",
                    kind: "unknown relationship types")
            }
        }
    }

    private func checkStatistics(_ log: inout FindingLog) {
        guard let statistics = metadata["statistics"], case .object = statistics else { return }
        for name in Self.countedSections {
            guard let stated = statistics[name] else { continue }
            guard let statedCount = stated.intValue else {
                log.add(.warning, .consistency, "statistics.\(name) should be a count, found \(describeValue(stated))")
                continue
            }
            // A required section that is missing or not an array already has its error.
            if Self.requiredSections.contains(name) && !sectionsAsArray.contains(name) { continue }
            let actual = counts[name] ?? 0
            if statedCount != actual {
                log.add(
                    .warning, .consistency,
                    "statistics says \(statedCount) \(name) but data.\(name) holds \(actual)")
            }
        }
    }

    private func describeValue(_ value: JSONValue) -> String {
        switch value {
        case .string, .number, .bool, .null:
            let text = value.jsonText
            return text.count > 60 ? String(text.prefix(57)) + "..." : text
        default:
            return value.kind.description
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction]Z`
    static func isUTCTimestamp(_ s: String) -> Bool {
        let b = Array(s.utf8)
        let pattern = Array("dddd-dd-ddTdd:dd:dd".utf8)
        guard b.count >= pattern.count + 1, b.last == UInt8(ascii: "Z") else { return false }
        for (i, p) in pattern.enumerated() {
            if p == UInt8(ascii: "d") {
                guard JSONNumberGrammar.isDigit(b[i]) else { return false }
            } else if b[i] != p {
                return false
            }
        }
        let rest = b[pattern.count..<(b.count - 1)]
        if rest.isEmpty { return true }
        guard rest.first == UInt8(ascii: "."), rest.count >= 2 else { return false }
        return rest.dropFirst().allSatisfy(JSONNumberGrammar.isDigit)
    }
}
