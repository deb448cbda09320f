import Foundation

extension TestStack {
    /// Polls `condition` every 0.1 s until it holds (an error counts as "not yet");
    /// after `timeout` seconds, throws naming `what`, with the services' logs.
    func waitUntil(_ timeout: Double, _ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if (try? condition()) == true { return }
            usleep(100_000)
        }
        throw StackError("timed out waiting for \(what)\n\(logs)")
    }
}
