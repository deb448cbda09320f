import KGService
import XCTest

final class ClientAddressTests: XCTestCase {
    private func t(_ entries: [String]) -> TrustedProxies { try! TrustedProxies(entries) }

    /// Ranges match by prefix, IPv4-mapped IPv6 peers match IPv4 entries, and
    /// a hop inside a trusted range is skipped like a listed one.
    func testCIDRRanges() throws {
        let proxies = try TrustedProxies(["10.0.0.0/8", "192.0.2.1", "fd00::/8"])
        XCTAssertTrue(proxies.contains("10.255.1.2"))
        XCTAssertTrue(proxies.contains("::ffff:10.1.2.3"))
        XCTAssertTrue(proxies.contains("192.0.2.1"))
        XCTAssertFalse(proxies.contains("192.0.2.2"))
        XCTAssertFalse(proxies.contains("11.0.0.1"))
        XCTAssertTrue(proxies.contains("fd12::1"))
        XCTAssertFalse(proxies.contains("fe80::1"))
        XCTAssertFalse(proxies.contains("not an address"))
        XCTAssertTrue(try TrustedProxies(["172.16.0.0/12"]).contains("172.31.255.255"))
        XCTAssertFalse(try TrustedProxies(["172.16.0.0/12"]).contains("172.32.0.0"))
        XCTAssertTrue(try TrustedProxies(["0.0.0.0/0"]).contains("203.0.113.7"))
        XCTAssertTrue(try TrustedProxies(["10.0.0.0/8"]).isEmpty == false)
        XCTAssertTrue(try TrustedProxies([]).isEmpty)
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.3.4", forwardedFor: "203.0.113.7, 10.9.9.9", trusted: proxies), "203.0.113.7")
        XCTAssertEqual(ClientAddress.resolve(peer: "172.17.0.2", forwardedFor: "203.0.113.7", trusted: proxies), "172.17.0.2")
    }

    /// A mistyped entry is refused at start, by name, instead of silently trusting nobody.
    func testBadEntriesAreRefusedByName() {
        for bad in ["10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0/8", "proxy.local", "10.0.0.0/-1", "10.0.0.0/x"] {
            XCTAssertThrowsError(try TrustedProxies([bad]), bad) { error in
                XCTAssertTrue("\(error)".contains("\"\(bad)\""), "\(error)")
                XCTAssertTrue("\(error)".contains("CIDR"), "\(error)")
            }
        }
    }
    func testTheHeaderCountsOnlyFromATrustedPeer() {
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "203.0.113.7", trusted: t([])), "10.0.0.5")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.9", forwardedFor: "203.0.113.7", trusted: t(["10.0.0.5"])), "10.0.0.9")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "203.0.113.7", trusted: t(["10.0.0.5"])), "203.0.113.7")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: nil, trusted: t(["10.0.0.5"])), "10.0.0.5")
    }

    /// The rightmost address that is not a trusted proxy: what a client writes on the left cannot win.
    func testTheNearestUntrustedHopWins() {
        XCTAssertEqual(
            ClientAddress.resolve(
                peer: "10.0.0.5", forwardedFor: "198.51.100.1, 203.0.113.9, 10.0.0.4",
                trusted: t(["10.0.0.5", "10.0.0.4"])), "203.0.113.9")
        XCTAssertEqual(ClientAddress.resolve(peer: "::1", forwardedFor: "2001:db8::7", trusted: t(["*"])), "2001:db8::7")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "10.0.0.4", trusted: t(["10.0.0.5", "10.0.0.4"])), "10.0.0.5")
    }

    /// Text that is not an IP address never reaches the audit trail.
    func testNonAddressesAreIgnored() {
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "'; DROP TABLE x; --", trusted: t(["*"])), "10.0.0.5")
        XCTAssertEqual(ClientAddress.resolve(peer: "10.0.0.5", forwardedFor: "203.0.113.7, evil\u{0}", trusted: t(["*"])), "10.0.0.5")
        XCTAssertTrue(ClientAddress.isIPAddress("127.0.0.1"))
        XCTAssertTrue(ClientAddress.isIPAddress("::1"))
        XCTAssertFalse(ClientAddress.isIPAddress("localhost"))
        XCTAssertFalse(ClientAddress.isIPAddress("10.0.0.0/8"))
    }
}
