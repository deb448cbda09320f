import KGDatabase
import XCTest

/// `PGResult.first(_:as:)` and `PGRow.decode` read PostgreSQL's own text forms (a real server's output, not
/// strings written by hand): counts, sums, `extract(epoch …)`, floats, booleans, NULL and absent columns.
final class RowDecodeTests: XCTestCase {
    func connect() throws -> PGConnection {
        try PGConnection(url: try TestEnvironment.adminDatabaseURL(), applicationName: "kg-tests")
    }

    func testTheFirstRowDecodesPostgreSQLsTextForms() throws {
        let r = try connect().query(
            """
            SELECT count(*) AS n, sum(v::bigint) AS big_sum, 9007199254740993::bigint AS large,
                   extract(epoch FROM interval '90.5 seconds') AS age, 'NaN'::float8 AS nan, '-Infinity'::float8 AS low,
                   true AS yes, false AS no, NULL::int AS nothing, 'abc' AS word, $1::text AS bound
            FROM (VALUES (1), (2), (3)) AS t(v)
            """, ["kg"])
        XCTAssertEqual(r.first("n", as: Int.self), 3)
        XCTAssertEqual(r.first("big_sum", as: Int.self), 6, "sum(bigint) is numeric, written without a fraction")
        XCTAssertEqual(r.first("large", as: Int.self), 9_007_199_254_740_993, "int8 decodes exactly, not through a Double")
        XCTAssertEqual(r.first("age", as: Double.self), 90.5)
        XCTAssertNil(r.first("age", as: Int.self), "a value with a fraction is not an Int")
        XCTAssertEqual(r.first("nan", as: Double.self)?.isNaN, true)
        XCTAssertEqual(r.first("low", as: Double.self), -.infinity)
        XCTAssertEqual(r.first("yes", as: Bool.self), true)
        XCTAssertEqual(r.first("no", as: Bool.self), false)
        XCTAssertNil(r.first("nothing", as: Int.self), "NULL")
        XCTAssertEqual(r.first("nothing", as: Int.self) ?? 0, 0)
        XCTAssertNil(r.first("word", as: Int.self), "text that is no number")
        XCTAssertNil(r.first("word", as: Bool.self))
        XCTAssertEqual(r.first("word", as: String.self), "abc")
        XCTAssertEqual(r.first("bound", as: String.self), "kg")
        XCTAssertNil(r.first("absent", as: Int.self), "a column the query does not name")
    }

    func testNoRowDecodesToNil() throws {
        let r = try connect().query("SELECT 1 AS n WHERE false")
        XCTAssertTrue(r.isEmpty)
        XCTAssertNil(r.first("n", as: Int.self))
        XCTAssertTrue(r.namedRows.isEmpty)
    }

    func testEveryRowReadsByName() throws {
        let rows = try connect().query(
            """
            SELECT v AS n, CASE WHEN v = 2 THEN NULL ELSE 'row ' || v END AS label, v % 2 = 0 AS even
            FROM generate_series(1, 3) AS v ORDER BY v
            """
        ).namedRows
        XCTAssertEqual(rows.map { $0.decode("n", as: Int.self) }, [1, 2, 3])
        XCTAssertEqual(rows.map { $0["label"] }, ["row 1", nil, "row 3"])
        XCTAssertEqual(rows.map { $0.decode("even", as: Bool.self) }, [false, true, false])
        XCTAssertEqual(rows[0].columns, ["n", "label", "even"])
        XCTAssertNil(rows[0]["missing"])
    }
}
