import Foundation
import KGClient
import XCTest

final class HTTPClientEventsTests: ServerTestCase {
    func testEventsArriveParsedAcrossAwkwardChunksUntilTheServerEndsTheStream() throws {
        var events: [ServerSentEvent] = []
        try makeClient().streamEvents(path: "/events") { event in
            events.append(event)
            return true
        }
        XCTAssertEqual(
            events,
            [
                ServerSentEvent(event: "progress", data: #"{"percent": 10}"#, id: "1"),
                ServerSentEvent(event: nil, data: "line one\nline two", id: "1"),
                ServerSentEvent(event: "progress", data: "x", id: "2"),
                ServerSentEvent(event: nil, data: "", id: "2"),
                ServerSentEvent(event: "completed", data: #"{"status": "completed", "name": "été"}"#, id: "3"),
            ])
    }

    func testReturningFalseStopsTheStream() throws {
        var events: [ServerSentEvent] = []
        try makeClient().streamEvents(path: "/events-forever") { event in
            events.append(event)
            return events.count < 3
        }
        XCTAssertEqual(events.map(\.data), ["1", "2", "3"])
        XCTAssertEqual(events.map(\.event), ["tick", "tick", "tick"])
    }

    func testStreamCutMidwayIsAnError() {
        var events: [String] = []
        XCTAssertThrowsError(
            try makeClient().streamEvents(path: "/events-cut") { event in
                events.append(event.data)
                return true
            }
        ) { error in
            guard case .transferInterrupted? = error as? HTTPClientError else {
                return XCTFail("expected transferInterrupted, got \(error)")
            }
        }
        XCTAssertEqual(events, ["one", "two"])
    }

    func testCancelFromAnotherThreadStopsTheStream() {
        let client = makeClient()
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: 0.3)
            client.cancel()
        }
        let started = Date()
        var count = 0
        XCTAssertThrowsError(
            try client.streamEvents(path: "/events-forever") { _ in
                count += 1
                return true
            }
        ) { error in
            XCTAssertEqual(error as? HTTPClientError, .cancelled)
        }
        XCTAssertGreaterThan(count, 0)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3)
    }

    func testThrowingFromOnEventRethrows() {
        struct Stop: Error {}
        XCTAssertThrowsError(try makeClient().streamEvents(path: "/events-forever") { _ in throw Stop() }) { error in
            XCTAssertTrue(error is Stop, "got \(error)")
        }
    }

    func testUnauthorizedStreamIsAnHTTPError() {
        XCTAssertThrowsError(try makeClient(token: nil).streamEvents(path: "/events") { _ in true }) { error in
            guard case .http(401, let message, _)? = error as? HTTPClientError else { return XCTFail("got \(error)") }
            XCTAssertEqual(message, "unauthorized: missing or invalid bearer token")
        }
    }
}
