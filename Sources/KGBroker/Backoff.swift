/// Capped exponential backoff between reconnect attempts: 0.1 s, 0.2 s, 0.4 s … up to `maximum`.
public struct Backoff: Sendable, Equatable {
    public var initial: Double
    public var maximum: Double
    private var current: Double

    public init(initial: Double = 0.1, maximum: Double = 5) {
        self.initial = initial
        self.maximum = maximum
        self.current = initial
    }

    /// The delay before the next attempt; doubles the one after.
    public mutating func next() -> Double {
        let delay = current
        current = min(current * 2, maximum)
        return delay
    }

    /// After a success: start again from `initial`.
    public mutating func reset() {
        current = initial
    }
}
