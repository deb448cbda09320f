/// The id checks of the integrity rules — duplicate concept and source ids,
/// instance rows that disagree, references to concepts and sources the file
/// does not contain, and the records naming them — answered exactly in bounded
/// memory.
///
/// Sections come in any order, so whether a named id is missing is known only
/// at the end. Every fact is therefore written to an ``IDLedger`` as it is read
/// (a definition, a reference with the record naming it), and ``outcome()``
/// answers everything in one sorted pass, where all facts of one id arrive
/// together, its definitions first. The ledger compares full ids (no hashing),
/// holds `budgetBytes` in memory and spills sorted runs to temp storage past it,
/// so memory does not grow with the number of records or ids, in any section order.
///
/// `seq` is the record's position in the file (all sections counted); findings
/// made here carry it, so that the report lists them in file order among the
/// findings made while reading, as one pass with every id in memory would.
final class IDFacts {
    static let concept = UInt8(ascii: "C"), source = UInt8(ascii: "S"), instance = UInt8(ascii: "I")
    /// Kinds of facts (definitions sort first within an id).
    static let defined: UInt8 = 0, namedByInstance: UInt8 = 1, fromEnd: UInt8 = 2, toEnd: UInt8 = 3

    let ledger: IDLedger
    /// How many findings of each kind a report shows (the log's cap).
    let shown: Int
    private var cached: Outcome?

    init(budgetBytes: Int, directory: String, shown: Int) {
        ledger = IDLedger(budgetBytes: budgetBytes, directory: directory)
        self.shown = shown
    }

    // MARK: - Facts

    func conceptDefined(_ id: String, index: Int, seq: UInt64) {
        ledger.append(Self.concept, id, kind: Self.defined, seq: seq, a: UInt64(index))
    }

    func sourceDefined(_ id: String, index: Int, seq: UInt64) {
        ledger.append(Self.source, id, kind: Self.defined, seq: seq, a: UInt64(index))
    }

    /// A row of instance `id`; `rowHash` digests its quote and source (the rows of one instance must agree).
    func instanceRow(_ id: String, index: Int, seq: UInt64, rowHash: UInt64) {
        ledger.append(Self.instance, id, kind: Self.defined, seq: seq, a: UInt64(index), b: rowHash)
    }

    /// The instance row at `index` names `concept` and/or `source`.
    func instanceNames(concept: String?, source: String?, index: Int, seq: UInt64) {
        if let concept { ledger.append(Self.concept, concept, kind: Self.namedByInstance, seq: seq, a: UInt64(index)) }
        if let source { ledger.append(Self.source, source, kind: Self.namedByInstance, seq: seq, a: UInt64(index)) }
    }

    /// The relationship at `index` joins `from` and `to`; `type` is its position
    /// in the rules' list of types (nil: no type), for messages.
    func relationship(from: String?, to: String?, type: Int?, index: Int, seq: UInt64) {
        let typeCode = type.map { UInt64($0) + 1 } ?? 0
        if let from { ledger.append(Self.concept, from, kind: Self.fromEnd, seq: seq, a: UInt64(index), b: typeCode) }
        if let to { ledger.append(Self.concept, to, kind: Self.toEnd, seq: seq, a: UInt64(index), b: typeCode) }
    }

    // MARK: - Outcome

    /// A finding made at the end, placed at the record that caused it.
    struct Placed {
        let seq: UInt64
        let message: String
    }

    /// The first few of a kind of finding (in file order), and how many there are.
    struct FirstFew<Item> {
        var items: [(order: (UInt64, UInt8), item: Item)] = []
        var total = 0
        let limit: Int

        mutating func offer(_ order: (UInt64, UInt8), _ item: @autoclosure () -> Item) {
            total += 1
            if items.count == limit, let last = items.last, !(order < last.order) { return }
            let at = items.firstIndex { order < $0.order } ?? items.count
            items.insert((order, item()), at: at)
            if items.count > limit { items.removeLast() }
        }

        var first: [Item] { items.map(\.item) }
    }

    /// A reference to a missing id: the id, and the fact of the record that first named it.
    struct Missing {
        let id: String
        let kind: UInt8
        let seq: UInt64
        let index: UInt64
        let typeCode: UInt64
    }

    struct Outcome {
        var duplicateConcepts: FirstFew<Placed>
        var duplicateSources: FirstFew<Placed>
        var disagreeingInstances: FirstFew<Placed>
        /// Missing concept ids, in order of first reference (`total` of them).
        var missingConcepts: FirstFew<Missing>
        /// Instance rows and relationships (each once) naming a missing concept.
        var instancesNamingMissing = 0
        var relationshipsNamingMissing = 0
        var missingSources: FirstFew<Missing>
        /// The first referrer of each shown missing id ("instance i5", "relationship a -[T]-> b (data.relationships[3])").
        var referrers: [UInt64: String] = [:]
        /// Why the checks could not be made (temp storage), if so.
        var failure: String?
    }

    /// Everything the facts say, computed once (`typeNames`: the rules' relationship types, for messages).
    func outcome(typeNames: [String]) -> Outcome {
        if let cached { return cached }
        var result = Outcome(
            duplicateConcepts: FirstFew(limit: shown), duplicateSources: FirstFew(limit: shown),
            disagreeingInstances: FirstFew(limit: shown), missingConcepts: FirstFew(limit: shown),
            missingSources: FirstFew(limit: shown))
        var dangling = EdgeSet()
        var isDefined = false
        var firstReference: Missing?
        var firstRowHash: UInt64 = 0
        var sawRow = false
        var namespaceOfGroup: UInt8 = 0

        func closeGroup() {
            if let missing = firstReference {
                if namespaceOfGroup == Self.concept {
                    result.missingConcepts.offer((missing.seq, missing.kind), missing)
                } else {
                    result.missingSources.offer((missing.seq, missing.kind), missing)
                }
            }
            firstReference = nil
        }

        ledger.forEachSorted { entry, newKey in
            if newKey {
                closeGroup()
                namespaceOfGroup = entry.namespace
                isDefined = false
                sawRow = false
            }
            switch (entry.namespace, entry.kind) {
            case (Self.concept, Self.defined), (Self.source, Self.defined):
                if isDefined {
                    let what = entry.namespace == Self.concept ? "concept" : "source"
                    let section = entry.namespace == Self.concept ? "concepts" : "sources"
                    let message = {
                        "\(what) \(entry.id) is defined more than once (again at data.\(section)[\(entry.a)]); a restore cannot load both"
                    }
                    if entry.namespace == Self.concept {
                        result.duplicateConcepts.offer((entry.seq, 0), Placed(seq: entry.seq, message: message()))
                    } else {
                        result.duplicateSources.offer((entry.seq, 0), Placed(seq: entry.seq, message: message()))
                    }
                }
                isDefined = true
            case (Self.instance, _):
                if sawRow {
                    if entry.b != firstRowHash {
                        result.disagreeingInstances.offer(
                            (entry.seq, 0),
                            Placed(
                                seq: entry.seq,
                                message:
                                    "instance \(entry.id) appears again at data.instances[\(entry.a)] with another quote or source; the rows of one instance "
                                    + "(one per concept it evidences) carry the same quote and source"))
                    }
                } else {
                    sawRow = true
                    firstRowHash = entry.b
                }
            default:  // a reference
                guard !isDefined else { break }
                let candidate = (entry.seq, entry.kind)
                if firstReference == nil || candidate < (firstReference!.seq, firstReference!.kind) {
                    firstReference = Missing(id: entry.id, kind: entry.kind, seq: entry.seq, index: entry.a, typeCode: entry.b)
                }
                if entry.namespace == Self.concept {
                    if entry.kind == Self.namedByInstance {
                        result.instancesNamingMissing += 1
                    } else {
                        dangling.insert(entry.seq)
                    }
                }
            }
            return true
        }
        closeGroup()
        result.relationshipsNamingMissing = dangling.count
        result.referrers = referrers(for: result.missingConcepts.first + result.missingSources.first, typeNames: typeNames)
        result.failure = ledger.failure
        cached = result
        return result
    }

    /// The messages' names of the records that first named the shown missing ids:
    /// one more scan of the facts (no sort) picks up their instance ids and relationship ends.
    private func referrers(for missing: [Missing], typeNames: [String]) -> [UInt64: String] {
        guard !missing.isEmpty else { return [:] }
        let seqs = Set(missing.map(\.seq))
        var instanceIDs: [UInt64: String] = [:]
        var ends: [UInt64: (from: String?, to: String?, typeCode: UInt64, index: UInt64)] = [:]
        ledger.forEachUnsorted { entry in
            guard seqs.contains(entry.seq) else { return }
            switch (entry.namespace, entry.kind) {
            case (Self.instance, _):
                instanceIDs[entry.seq] = entry.id
            case (Self.concept, Self.fromEnd):
                ends[entry.seq, default: (nil, nil, entry.b, entry.a)].from = entry.id
            case (Self.concept, Self.toEnd):
                ends[entry.seq, default: (nil, nil, entry.b, entry.a)].to = entry.id
            default:
                break
            }
        }
        var names: [UInt64: String] = [:]
        for m in missing {
            if m.kind == Self.namedByInstance {
                names[m.seq] = instanceIDs[m.seq].map { "instance \($0)" } ?? "instance at data.instances[\(m.index)]"
            } else {
                let end = ends[m.seq]
                let type = m.typeCode > 0 && Int(m.typeCode) <= typeNames.count ? typeNames[Int(m.typeCode) - 1] : "?"
                names[m.seq] = "relationship \(end?.from ?? "?") -[\(type)]-> \(end?.to ?? "?") (data.relationships[\(m.index)])"
            }
        }
        return names
    }
}

/// Relationship records (by their position in the file), each counted once (an edge with two missing ends, or
/// a loop, is named twice): a bitmap in pages of 2^16 positions, allocated only
/// where some relationship dangles.
struct EdgeSet {
    private var pages: [UInt64: [UInt64]] = [:]
    private(set) var count = 0

    mutating func insert(_ position: UInt64) {
        let page = position >> 16, bit = Int(position & 0xFFFF)
        let mask: UInt64 = 1 << UInt64(bit & 63)
        if let words = pages[page], words[bit >> 6] & mask != 0 { return }
        pages[page, default: [UInt64](repeating: 0, count: 1 << 10)][bit >> 6] |= mask
        count += 1
    }
}
