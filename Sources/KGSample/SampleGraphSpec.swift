/// The shape of a generated sample graph. Everything else derives from
/// `concepts`: about one source per two concepts, one evidence quote per
/// concept (each evidencing one to three concepts), three relationships per concept.
public struct SampleGraphSpec: Sendable {
    public var concepts: Int
    public var ontologies: Int
    public var embeddingDimensions: Int
    public var seed: UInt64

    public init(concepts: Int = 200, ontologies: Int = 3, embeddingDimensions: Int = 1536, seed: UInt64 = 42) {
        self.concepts = max(1, concepts)
        self.ontologies = max(1, min(ontologies, concepts))
        self.embeddingDimensions = max(0, embeddingDimensions)
        self.seed = seed
    }

    public var sources: Int { max(ontologies, concepts / 2) }
    public var instances: Int { concepts }
    public var relationships: Int { concepts * 3 }

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
