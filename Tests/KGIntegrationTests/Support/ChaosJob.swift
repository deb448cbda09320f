/// One job the chaos run submitted, and what it was meant to do.
struct ChaosJob {
    enum Kind: CaseIterable {
        case merge, ontologyDelete, prune, stitch, backup
    }

    let id: String
    let kind: Kind
    /// The ontology a merge brings back or a delete removes.
    let target: String?
    let dryRun: Bool
}
