/// The relationship types every database starts with, by category, as listed
/// in BACKUP_FORMAT.md; and the structural edge names that are never
/// relationship types.
///
/// ```swift
/// BuiltinRelationshipTypes.names.contains("IMPLIES")          // true
/// BuiltinRelationshipTypes.category(of: "CAUSES")              // "causal"
/// BuiltinRelationshipTypes.structuralEdgeNames.contains("APPEARS")   // true
/// ```
public enum BuiltinRelationshipTypes {
    /// The 30 built-in types with their categories, in the documented order.
    public static let all: [(type: String, category: String)] = [
        ("IMPLIES", "logical_truth"), ("CONTRADICTS", "logical_truth"),
        ("PRESUPPOSES", "logical_truth"), ("EQUIVALENT_TO", "logical_truth"),
        ("CAUSES", "causal"), ("ENABLES", "causal"), ("PREVENTS", "causal"),
        ("INFLUENCES", "causal"), ("RESULTS_FROM", "causal"),
        ("PART_OF", "structural"), ("CONTAINS", "structural"), ("COMPOSED_OF", "structural"),
        ("SUBSET_OF", "structural"), ("INSTANCE_OF", "structural"),
        ("SUPPORTS", "evidential"), ("REFUTES", "evidential"), ("EXEMPLIFIES", "evidential"),
        ("MEASURED_BY", "evidential"),
        ("SIMILAR_TO", "similarity"), ("ANALOGOUS_TO", "similarity"), ("CONTRASTS_WITH", "similarity"),
        ("OPPOSITE_OF", "similarity"),
        ("PRECEDES", "temporal"), ("CONCURRENT_WITH", "temporal"), ("EVOLVES_INTO", "temporal"),
        ("USED_FOR", "functional"), ("REQUIRES", "functional"), ("PRODUCES", "functional"),
        ("REGULATES", "functional"),
        ("DEFINED_AS", "meta"), ("CATEGORIZED_AS", "meta"),
    ].map { (type: $0.0, category: $0.1) }

    /// The names of the built-in types.
    public static let names: Set<String> = Set(all.map(\.type))

    /// The categories in their documented order.
    public static let categories: [String] = [
        "logical_truth", "causal", "structural", "evidential", "similarity", "temporal", "functional", "meta",
    ]

    /// The graph's own edges between concepts, instances and sources; a
    /// relationship in a backup never has one of these as its type.
    public static let structuralEdgeNames: Set<String> = ["APPEARS", "EVIDENCED_BY", "FROM_SOURCE"]

    /// The category of a built-in type, or `nil` when `type` is not built in.
    public static func category(of type: String) -> String? {
        all.first { $0.type == type }?.category
    }
}
