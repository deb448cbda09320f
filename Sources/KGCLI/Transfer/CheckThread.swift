import Foundation
import KGFormat

/// A download's integrity check on a thread of its own, beside the thread that receives,
/// hashes and writes the bytes: two cores for what was one thread's work.
///
/// The receiving thread copies each chunk into a block (``blockBytes``) and hands full blocks
/// over a bounded queue (``queuedBlocks``: at most a few MiB in flight, whatever the file's
/// size); when the check falls behind, ``feed(_:)`` waits for it, so the check never lags by
/// more than the queue and memory stays flat. The verdict is the same as a check on the
/// receiving thread: the same bytes in the same order through one ``IntegrityChecker``, and
/// ``finish()`` returns its report only after the last block was checked, so nothing is
/// committed before the whole file has passed.
///
/// Measured on a 531 MB backup (docs/BENCHMARKS.md, eleventh session): once the export ends,
/// the CLI's drain of what it could not take while PostgreSQL had both cores ran on one core;
/// now the check and the hash+write run on both.
///
/// ```swift
/// let check = CheckThread(CLIConfig.makeChecker())
/// defer { check.abandon() }          // any early exit stops the thread
/// onData: { chunk in try output.write(chunk); check.feed(chunk) }
/// let report = check.finish()        // waits for the last block
/// ```
final class CheckThread: @unchecked Sendable {
    /// Bytes per block handed to the check.
    static let blockBytes = 256 << 10
    /// Blocks waiting for the check before ``feed(_:)`` waits: 4 MiB in flight.
    static let queuedBlocks = 16

    // Guarded by `lock`: the queue and the two flags; `checker` is touched by the check thread
    // until `checked`, then by the caller of `finish()`.
    private let lock = NSCondition()
    private var queue: [[UInt8]] = []
    private var head = 0
    /// No more blocks will come (``finish()`` or ``abandon()``).
    private var closed = false
    /// Blocks still queued are dropped: the download failed.
    private var abandoned = false
    /// The thread has checked every block it will check and ended.
    private var checked = false
    private let checker: IntegrityChecker
    /// The block being filled, on the receiving thread only.
    private var block: [UInt8] = []
    private var report: IntegrityReport?

    init(_ checker: IntegrityChecker) {
        self.checker = checker
        block.reserveCapacity(Self.blockBytes)
        let thread = Thread { [self] in run() }
        thread.name = "kg-check"
        thread.start()
    }

    /// The next bytes of the file, in order (from one thread at a time).
    func feed(_ chunk: UnsafeRawBufferPointer) {
        var rest = chunk
        while !rest.isEmpty {
            let n = min(Self.blockBytes - block.count, rest.count)
            block.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<n]))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if block.count == Self.blockBytes { handOver() }
        }
    }

    /// Ends the file: waits until every byte fed was checked and returns the check's report.
    func finish() -> IntegrityReport {
        if let report { return report }
        if !block.isEmpty { handOver() }
        lock.lock()
        closed = true
        lock.broadcast()
        while !checked { lock.wait() }
        lock.unlock()
        let whole = checker.finish()
        report = whole
        return whole
    }

    /// The download ended without a file to judge: the thread drops what is queued and ends.
    /// Nothing after ``finish()``; safe to call more than once.
    func abandon() {
        lock.lock()
        if !closed {
            closed = true
            abandoned = true
            lock.broadcast()
        }
        lock.unlock()
    }

    private func handOver() {
        let full = block
        block = []
        block.reserveCapacity(Self.blockBytes)
        lock.lock()
        while queue.count - head >= Self.queuedBlocks && !abandoned { lock.wait() }
        if !abandoned { queue.append(full) }
        lock.broadcast()
        lock.unlock()
    }

    private func run() {
        while true {
            lock.lock()
            while queue.count == head && !closed { lock.wait() }
            if abandoned || queue.count == head {
                queue.removeAll()
                head = 0
                checked = true
                lock.broadcast()
                lock.unlock()
                return
            }
            let next = queue[head]
            queue[head] = []
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            lock.broadcast()
            lock.unlock()
            next.withUnsafeBytes { checker.feed($0) }
        }
    }
}
