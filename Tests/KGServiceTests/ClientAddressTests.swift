import KGService
import XCTest

final class ClientAddressTests: XCTestCase {
    func testTheHeaderCountsOnlyFromATrustedPeer() {
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "203.0.113.7", trusted: []), "10.0.0.5")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.9", forwardedFor: "203.0.113.7", trusted: ["10.0.0.5"]), "10.0.0.9")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "203.0.113.7", trusted: ["10.0.0.5"]), "203.0.113.7")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: nil, trusted: ["10.0.0.5"]), "10.0.0.5")
    }

    /// The rightmost address that is not a trusted proxy: what a client writes on the left cannot win.
    func testTheNearestUntrustedHopWins() {
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "198.51.100.1, 203.0.113.9, 10.0.0.4",
                                             trusted: ["10.0.0.5", "10.0.0.4"]), "203.0.113.9")
        XCTAssertEqual(ClientAddress.resolve(peer: "::1", forwardedFor: "2001:db8::7", trusted: ["*"]), "2001:db8::7")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "10.0.0.4", trusted: ["10.0.0.5", "10.0.0.4"]), "10.0.0.5")
    }

    /// Text that is not an IP address never reaches the audit trail.
    func testNonAddressesAreIgnored() {
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "'; DROP TABLE x; --", trusted: ["*"]), "10.0.0.5")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "203.0.113.7, evil\u{0}", trusted: ["*"]), "10.0.0.5")
        XCTAssertTrue(ClientAddress.isIPAddress("127.0.0.1"))
        XCTAssertTrue(ClientAddress.isIPAddress("::1"))
        XCTAssertFalse(ClientAddress.isIPAddress("localhost"))
        XCTAssertFalse(ClientAddress.isIPAddress("10.0.0.0/8"))
    }
}
