import XCTest
import KGFormat

final class BuiltinRelationshipTypesTests: XCTestCase {
    func testTypesAndCategoriesAsDocumented() {
        let byCategory = Dictionary(grouping: BuiltinRelationshipTypes.all, by: \.category).mapValues { $0.map(\.type) }
        XCTAssertEqual(byCategory["logical_truth"], ["IMPLIES", "CONTRADICTS", "PRESUPPOSES", "EQUIVALENT_TO"])
        XCTAssertEqual(byCategory["causal"], ["CAUSES", "ENABLES", "PREVENTS", "INFLUENCES", "RESULTS_FROM"])
        XCTAssertEqual(byCategory["structural"], ["PART_OF", "CONTAINS", "COMPOSED_OF", "SUBSET_OF", "INSTANCE_OF"])
        XCTAssertEqual(byCategory["evidential"], ["SUPPORTS", "REFUTES", "EXEMPLIFIES", "MEASURED_BY"])
        XCTAssertEqual(byCategory["similarity"], ["SIMILAR_TO", "ANALOGOUS_TO", "CONTRASTS_WITH", "OPPOSITE_OF"])
        XCTAssertEqual(byCategory["temporal"], ["PRECEDES", "CONCURRENT_WITH", "EVOLVES_INTO"])
        XCTAssertEqual(byCategory["functional"], ["USED_FOR", "REQUIRES", "PRODUCES", "REGULATES"])
        XCTAssertEqual(byCategory["meta"], ["DEFINED_AS", "CATEGORIZED_AS"])
        XCTAssertEqual(Set(byCategory.keys), Set(BuiltinRelationshipTypes.categories))
        // BACKUP_FORMAT.md says "the 30 built-in types" but its list names 31; the list is what we follow.
        XCTAssertEqual(BuiltinRelationshipTypes.all.count, 31)
        XCTAssertEqual(BuiltinRelationshipTypes.names.count, BuiltinRelationshipTypes.all.count)
        XCTAssertEqual(BuiltinRelationshipTypes.category(of: "CAUSES"), "causal")
        XCTAssertNil(BuiltinRelationshipTypes.category(of: "APPEARS"))
    }

    func testStructuralNamesAreNeverTypes() {
        XCTAssertEqual(BuiltinRelationshipTypes.structuralEdgeNames, ["APPEARS", "EVIDENCED_BY", "FROM_SOURCE"])
        XCTAssertTrue(BuiltinRelationshipTypes.structuralEdgeNames.isDisjoint(with: BuiltinRelationshipTypes.names))
    }
}
