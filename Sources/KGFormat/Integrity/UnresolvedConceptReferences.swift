/// The concept ids that records named before (or without) the file defining
/// them, and how many instances and relationships each would leave dangling,
/// so that the end of the file can say exactly which records a restore with
/// `--external-deps prune` drops (or `defer` keeps aside).
///
/// Sections come in any order, so whether a named concept is missing is known
/// only at the end. Kept per unresolved id: its first referrer (for messages),
/// the instances naming it, and the relationships of which it was the only
/// unresolved end. A relationship whose two ends were both unresolved when it
/// was read dangles if either end stays missing, so it cannot be charged to one
/// id: those are counted per (from, to) pair of unresolved ids. That map is
/// bounded by the number of distinct pairs of unresolved ids, not by the number
/// of records: a pair repeated by many edges is one entry (8 bytes of key, 4 of
/// count; about 38 bytes a pair at the peak, the dictionary's growth included,
/// measured on a data-first file of 1 M distinct pairs). When concepts come
/// before relationships, as in every file kg writes, it holds only the edges
/// between two missing concepts. An exact one-pass count needs such a joint
/// record: which ids end up missing is known only after the last edge is read.
///
/// A file that lists its relationships before its concepts keeps a pair for
/// every distinct edge until the concepts come, so the map is capped at
/// ``maxPairs`` (about 20 MB): past it, a new pair is only counted, and the
/// relationship count becomes a range (``Outcome/relationshipsAtMost``) rather
/// than growing memory with the file.
struct UnresolvedConceptReferences {
    /// Distinct pairs kept for the exact count.
    static let defaultMaxPairs = 1 << 19
    struct Concept {
        let id: String
        /// The first record that named it, for messages ("instance i5").
        let referrer: String
        /// Instance records naming it.
        var instances = 0
        /// Relationships of which it was the only unresolved end when read
        /// (a self-loop counts here once).
        var relationships = 0
    }

    /// Two unresolved ids, as positions in `concepts`.
    struct EndPair: Hashable {
        let from: UInt32
        let to: UInt32
    }

    /// What a restore would find dangling, once the defined concepts are known.
    struct Outcome {
        /// Missing ids with their first referrer, in order of first reference.
        var missing: [(id: String, referrer: String)]
        /// Instance records naming a missing concept.
        var instances: Int
        /// Relationships with at least one missing end (each counted once);
        /// past the pair cap, those known for sure.
        var relationships: Int
        /// Past the pair cap: the most there can be (nil when `relationships` is exact).
        var relationshipsAtMost: Int?
    }

    let maxPairs: Int
    /// Edges with two unresolved ends whose pair came after the cap was reached.
    private var uncountedEdges = 0

    init(maxPairs: Int = Self.defaultMaxPairs) {
        self.maxPairs = maxPairs
    }

    private var positions: [String: UInt32] = [:]
    private(set) var concepts: [Concept] = []
    /// Edges per pair, in 4 bytes (the map can hold millions of pairs);
    /// `wrappedPairs` keeps the multiples of 2^32 for the rare pair that needs them.
    private var pairs: [EndPair: UInt32] = [:]
    private var wrappedPairs: [EndPair: Int] = [:]

    /// Distinct (from, to) pairs of unresolved ids kept so far (for measurements).
    var pairCount: Int { pairs.count }

    /// An instance record names `concept`, which is not defined (yet).
    mutating func instance(names concept: String, referrer: String) {
        concepts[Int(position(of: concept, referrer: referrer))].instances += 1
    }

    /// A relationship names `from` and `to`; `fromUnresolved`/`toUnresolved`
    /// say which of them the file has not defined so far (an end that is nil
    /// is an error reported elsewhere and counts as resolved here).
    mutating func relationship(from: String?, fromUnresolved: Bool, to: String?, toUnresolved: Bool, referrer: String) {
        let f = fromUnresolved ? from : nil
        let t = toUnresolved ? to : nil
        switch (f, t) {
        case let (f?, t?) where f != t:
            let pair = EndPair(from: position(of: f, referrer: referrer), to: position(of: t, referrer: referrer))
            if pairs.count >= maxPairs && pairs[pair] == nil {
                uncountedEdges += 1
                return
            }
            let (sum, wrapped) = pairs[pair, default: 0].addingReportingOverflow(1)
            pairs[pair] = sum
            if wrapped { wrappedPairs[pair, default: 0] += 1 << 32 }
        case let (f?, _):
            concepts[Int(position(of: f, referrer: referrer))].relationships += 1
        case let (nil, t?):
            concepts[Int(position(of: t, referrer: referrer))].relationships += 1
        case (nil, nil):
            break
        }
    }

    /// The ids still missing once the file has defined `defined`, and the
    /// records that name them.
    func outcome(defined: Set<String>) -> Outcome {
        var missing: [(id: String, referrer: String)] = []
        var isMissing = [Bool](repeating: false, count: concepts.count)
        var instances = 0, relationships = 0
        for (i, concept) in concepts.enumerated() where !defined.contains(concept.id) {
            isMissing[i] = true
            missing.append((concept.id, concept.referrer))
            instances += concept.instances
            relationships += concept.relationships
        }
        for (pair, n) in pairs where isMissing[Int(pair.from)] || isMissing[Int(pair.to)] {
            relationships += Int(n) + (wrappedPairs[pair] ?? 0)
        }
        return Outcome(missing: missing, instances: instances, relationships: relationships,
                       relationshipsAtMost: uncountedEdges > 0 ? relationships + uncountedEdges : nil)
    }

    private mutating func position(of id: String, referrer: String) -> UInt32 {
        if let known = positions[id] { return known }
        // More than 4 billion distinct ids would exhaust memory long before this.
        let next = UInt32(concepts.count)
        positions[id] = next
        concepts.append(Concept(id: id, referrer: referrer))
        return next
    }
}
