import KGBroker

/// The broker cluster has fewer than a majority of its nodes: the job queue accepts nothing.
struct NoBrokerMajority: Error, CustomStringConvertible {
    let view: ClusterView
    var description: String { view.noMajorityMessage }
}
