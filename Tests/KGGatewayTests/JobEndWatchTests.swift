import Foundation
import XCTest

@testable import KGGateway

/// A backup stream learns its job's end from the worker's terminal status event.
final class JobEndWatchTests: XCTestCase {
    /// Polls `watch.takeEnded()` for up to two seconds.
    func ended(_ watch: JobEndWatch) async -> Bool {
        for _ in 0..<200 {
            if watch.takeEnded() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    func testTheTerminalEventOfItsOwnJobIsSeenOnce() async {
        let hub = StatusHub()
        let watch = JobEndWatch(hub: hub, jobID: "a")
        defer { watch.stop() }
        hub.deliver(routingKey: "job.a.progress", body: Array("{}".utf8))
        hub.deliver(routingKey: "job.b.completed", body: Array("{}".utf8))
        let early = await ended(watch)
        XCTAssertFalse(early, "progress, or another job's end, is not this job's end")
        hub.deliver(routingKey: "job.a.completed", body: Array("{}".utf8))
        let seen = await ended(watch)
        XCTAssertTrue(seen)
        XCTAssertFalse(watch.takeEnded(), "seen once: the next poll of the row is the stream's own")
    }

    func testFailedAndCancelledEndTheJobToo() async {
        for event in ["failed", "cancelled"] {
            let hub = StatusHub()
            let watch = JobEndWatch(hub: hub, jobID: "a")
            hub.deliver(routingKey: "job.a.\(event)", body: Array("{}".utf8))
            let seen = await ended(watch)
            XCTAssertTrue(seen, event)
            watch.stop()
        }
    }
}
