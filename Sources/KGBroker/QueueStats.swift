/// What the broker says about one queue at one moment.
public struct QueueStats: Sendable, Equatable {
    public let queue: String
    /// Messages ready for delivery (not counting those delivered and not yet acknowledged).
    public let messages: Int
    /// Consumers attached: for the job queue, the workers taking jobs.
    public let consumers: Int

    public init(queue: String, messages: Int, consumers: Int) {
        self.queue = queue
        self.messages = messages
        self.consumers = consumers
    }
}
