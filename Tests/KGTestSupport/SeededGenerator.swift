import KGFormat

/// The seedable generator of the tests (KGFormat's SplitMix64): small, fast, and the same
/// sequence on every platform for a seed. The fuzzers, the property tests and the
/// chaos run print their seed, and the same seed gives the same choices.
public struct SeededGenerator: RandomNumberGenerator {
    private var base: SplitMix64
    public init(seed: UInt64) { base = SplitMix64(seed: seed) }
    public mutating func next() -> UInt64 { base.next() }

    /// The seed of case `index` of a run seeded with `seed` (so one case can be replayed alone).
    public static func caseSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
        var g = SeededGenerator(seed: seed ^ (UInt64(index) &* 0xD6E8_FEB8_6659_FD93))
        return g.next()
    }

    public mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    public mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }
    public mutating func int(_ range: Range<Int>) -> Int { Int.random(in: range, using: &self) }
    public mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
    /// A number in `0..<n`.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
    /// True one time in `n`.
    public mutating func oneIn(_ n: Int) -> Bool { below(n) == 0 }
}
