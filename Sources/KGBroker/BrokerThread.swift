import Foundation

/// A dedicated OS thread that runs blocking work serially, off Swift's cooperative pool.
///
/// rabbitmq-c calls block and its connections are not thread-safe, so each connection lives on
/// one `BrokerThread` and is only touched from closures run there. An optional tick runs on the
/// same thread every `tickInterval` seconds (even while busy, between work items), which owners
/// use to service heartbeats and reconnect.
///
/// ```swift
/// let thread = BrokerThread(name: "kg-publisher")
/// let queue = try await thread.run { try connection.declareQueue(name: "") }
/// thread.stop()
/// ```
///
/// Call `stop()` when done: the running thread keeps the object alive until then.
public final class BrokerThread: @unchecked Sendable {
    // Thread-safety: `work`, `stopping`, `tick*` and `threadID` are guarded by `condition`;
    // the work items themselves only ever run on the thread started in `init`.
    private let condition = NSCondition()
    private var work: [() -> Void] = []
    private var stopping = false
    private var tickInterval: Double?
    private var tickHandler: (() -> Void)?
    private var lastTick = monotonicNow()
    private var threadID: pthread_t?
    private let exited = DispatchSemaphore(value: 0)
    public let name: String

    /// - Parameter name: thread name for debuggers and `top -H` (15 bytes are kept).
    public init(name: String) {
        self.name = name
        let thread = Thread { [self] in self.main() }
        thread.name = name
        thread.start()
    }

    /// Installs a handler run on this thread about every `interval` seconds.
    public func setTick(interval: Double, _ handler: @escaping @Sendable () -> Void) {
        condition.lock()
        tickInterval = interval
        tickHandler = handler
        lastTick = monotonicNow()
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on this thread after the work queued before it; returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            let accepted = enqueue {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            if !accepted { continuation.resume(throwing: BrokerError.stopped("broker thread '\(name)'")) }
        }
    }

    /// Blocking variant of `run` for threads that may block (never call it from async code).
    /// Runs `body` inline when called on this thread.
    public func runSync<T>(_ body: () throws -> T) throws -> T {
        if isCurrent { return try body() }
        return try withoutActuallyEscaping(body) { body in
            let call = SyncCall(body)
            let accepted = enqueue { call.run() }
            if accepted { call.done.wait() }
            return try call.result.get()
        }
    }

    /// Queues `body` without waiting; false when the thread is stopped.
    @discardableResult
    public func submit(_ body: @escaping @Sendable () -> Void) -> Bool {
        enqueue(body)
    }

    /// Work items queued and not yet started.
    public var queuedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return work.count
    }

    /// True when called from this thread.
    public var isCurrent: Bool {
        condition.lock()
        defer { condition.unlock() }
        guard let threadID else { return false }
        return pthread_equal(threadID, pthread_self()) != 0
    }

    /// Refuses new work, lets queued work finish and waits up to `timeout` seconds for the
    /// thread to exit. Returns false if it did not exit in time. Safe to call more than once.
    @discardableResult
    public func stop(timeout: Double = 5) -> Bool {
        condition.lock()
        let first = !stopping
        stopping = true
        condition.signal()
        condition.unlock()
        if isCurrent { return false }
        guard first else { return true }
        return exited.wait(timeout: .now() + timeout) == .success
    }

    private func enqueue(_ item: @escaping () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopping else { return false }
        work.append(item)
        condition.signal()
        return true
    }

    private func main() {
        // Set from the thread itself: Foundation on Linux does not apply a name given before
        // start to the OS thread. The kernel keeps 15 bytes.
        Thread.current.name = String(name.utf8.prefix(15))!
        condition.lock()
        threadID = pthread_self()
        condition.unlock()
        while true {
            condition.lock()
            var tick: (() -> Void)?
            var item: (() -> Void)?
            while true {
                if let interval = tickInterval, monotonicNow() - lastTick >= interval {
                    lastTick = monotonicNow()
                    tick = tickHandler
                    break
                }
                if !work.isEmpty {
                    item = work.removeFirst()
                    break
                }
                if stopping { break }
                if let interval = tickInterval {
                    _ = condition.wait(until: Date(timeIntervalSinceNow: max(0.001, lastTick + interval - monotonicNow())))
                } else {
                    condition.wait()
                }
            }
            let stopNow = stopping && item == nil && tick == nil
            condition.unlock()
            if stopNow { break }
            tick?()
            item?()
        }
        condition.lock()
        tickHandler = nil  // breaks the cycle owner → thread → handler → owner
        condition.unlock()
        exited.signal()
    }
}

/// One `runSync` call. It drops the caller's closure before signalling, so the closure has not
/// escaped when `withoutActuallyEscaping` returns. `result` is written on the broker thread and
/// read by the caller only after `done` is signalled.
private final class SyncCall<T> {
    private var body: (() throws -> T)?
    var result: Result<T, Error> = .failure(BrokerError.stopped("broker thread"))
    let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping () throws -> T) { self.body = body }

    func run() {
        if let body { result = Result { try body() } }
        body = nil
        done.signal()
    }
}
