/// A second pass over a file on disk that makes ``IntegrityReport/ExternalReferences``
/// exact when the first pass could only give a range (a file that names more
/// concept pairs in relationships before defining them than the checker keeps:
/// see ``UnresolvedConceptReferences``). The first pass has found which concept
/// ids are missing; with that set (per id), each record is decided as it is read.
/// Only ``BackupFileChecker`` does it: a gateway or a worker reads an upload
/// once, as it arrives.
struct ExternalReferenceRecount {
    let missing: Set<String>
    private(set) var instances = 0
    private(set) var relationships = 0

    init(missing: Set<String>) {
        self.missing = missing
    }

    /// Counts the records, as the first pass does: an instance naming a missing
    /// concept, a relationship with at least one missing end (once).
    mutating func observe(_ event: BackupEvent) {
        guard case .record(let section, _, let value) = event else { return }
        switch section {
        case "instances":
            if let concept = Self.id(value["concept_id"]), missing.contains(concept) { instances += 1 }
        case "relationships":
            let from = Self.id(value["from"]).map(missing.contains) ?? false
            let to = Self.id(value["to"]).map(missing.contains) ?? false
            if from || to { relationships += 1 }
        default:
            break
        }
    }

    private static func id(_ value: JSONValue?) -> String? {
        guard let text = value?.stringValue, !text.isEmpty else { return nil }
        return text
    }
}
