import XCTest
@testable import KGGateway

final class PrometheusTextTests: XCTestCase {
    func testFamiliesSamplesAndEscaping() {
        var text = PrometheusText()
        text.family("kg_jobs", type: "gauge", help: "Jobs by type\nand status \\ all.")
        text.sample("kg_jobs", labels: [("job_type", "backup"), ("status", "completed")], 3)
        text.sample("kg_jobs", labels: [("name", "a \"quoted\" \\ back\nslash")], 0.25)
        text.sample("kg_up", 1)
        XCTAssertEqual(
            text.output,
            """
            # HELP kg_jobs Jobs by type\\nand status \\\\ all.
            # TYPE kg_jobs gauge
            kg_jobs{job_type="backup",status="completed"} 3
            kg_jobs{name="a \\"quoted\\" \\\\ back\\nslash"} 0.25
            kg_up 1

            """)
    }

    func testNumberFormats() {
        XCTAssertEqual(PrometheusText.format(.infinity), "+Inf")
        XCTAssertEqual(PrometheusText.format(-.infinity), "-Inf")
        XCTAssertEqual(PrometheusText.format(.nan), "NaN")
        XCTAssertEqual(PrometheusText.format(2.5), "2.5")
        XCTAssertEqual(PrometheusText.format(60), "60")
        XCTAssertEqual(PrometheusText.format(1_234_567_890_123), "1234567890123")
    }
}
