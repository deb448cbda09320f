/// The shape of a generated sample graph. Everything else derives from
/// `concepts` unless set: about one source per two concepts, one evidence quote per
/// concept (each evidencing one to three concepts), three relationships per concept.
public struct SampleGraphSpec: Sendable {
    /// How ids look: `concept_000042` (sequential) or a UUID-style text
    /// (`3f2a…-…`, 36 characters, derived from the index and the seed).
    public enum IDStyle: String, Sendable, CaseIterable {
        case sequential, uuid
    }

    public var concepts: Int
    public var ontologies: Int
    public var embeddingDimensions: Int
    public var seed: UInt64
    public var idStyle: IDStyle
    private var sourceCount: Int?
    private var relationshipCount: Int?

    public init(
        concepts: Int = 200, ontologies: Int = 3, embeddingDimensions: Int = 1536, seed: UInt64 = 42,
        sources: Int? = nil, relationships: Int? = nil, idStyle: IDStyle = .sequential
    ) {
        self.concepts = max(1, concepts)
        self.ontologies = max(1, min(ontologies, concepts))
        self.embeddingDimensions = max(0, embeddingDimensions)
        self.seed = seed
        self.sourceCount = sources.map { max(1, $0) }
        self.relationshipCount = relationships.map { max(0, $0) }
        self.idStyle = idStyle
    }

    public var sources: Int { max(ontologies, sourceCount ?? concepts / 2) }
    public var instances: Int { concepts }
    public var relationships: Int { relationshipCount ?? concepts * 3 }

    /// The ontology names: ASCII, non-ASCII and one that needs a safe file name.
    public func ontologyName(_ index: Int) -> String {
        let names = ["Philosophy of Mind", "Biología celular", "systems/thinking", "量子力学", "Economics"]
        let base = names[index % names.count]
        return index < names.count ? base : "\(base) \(index / names.count + 1)"
    }
}

/// What a load wrote, per table.
public struct SampleGraphStats: Sendable, CustomStringConvertible {
    public var ontologies = 0
    public var vocabulary = 0
    public var concepts = 0
    public var sources = 0
    public var instances = 0
    public var evidence = 0
    public var relationships = 0

    public var description: String {
        "ontologies=\(ontologies) concepts=\(concepts) sources=\(sources) instances=\(instances) evidence=\(evidence) relationships=\(relationships) custom_vocabulary=\(vocabulary)"
    }
}
