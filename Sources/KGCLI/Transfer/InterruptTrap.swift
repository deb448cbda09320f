import Dispatch
import Foundation

/// Catches Ctrl-C (SIGINT) while it is installed and runs `handler` on a
/// background queue instead of letting the process die mid-line, so the CLI
/// can say what became of the work on the server. After ``remove()``, Ctrl-C
/// ends the process as usual.
///
/// One dispatch signal source serves the whole process and is never torn
/// down: libdispatch installs its signal handler only once, so resetting the
/// disposition in between would leave later sources deaf.
final class InterruptTrap: @unchecked Sendable {
    private static let lock = NSLock()
    // Guarded by `lock`.
    nonisolated(unsafe) private static var current: InterruptTrap?
    nonisolated(unsafe) private static var source: DispatchSourceSignal?

    private let handler: @Sendable () -> Void
    // Guarded by `InterruptTrap.lock`.
    private var firedValue = false

    init(_ handler: @escaping @Sendable () -> Void) {
        self.handler = handler
        Self.lock.withLock {
            Self.current = self
            if Self.source == nil {
                signal(SIGINT, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
                source.setEventHandler { InterruptTrap.interrupted() }
                source.resume()
                Self.source = source
            }
        }
    }

    /// Whether Ctrl-C was pressed while this trap was installed.
    var fired: Bool { Self.lock.withLock { firedValue } }

    func remove() {
        Self.lock.withLock { if Self.current === self { Self.current = nil } }
    }

    private static func interrupted() {
        let trap: InterruptTrap? = lock.withLock {
            current?.firedValue = true
            return current
        }
        guard let trap else {
            // No trap installed: die of SIGINT as the process would have.
            signal(SIGINT, SIG_DFL)
            raise(SIGINT)
            return
        }
        trap.handler()
    }
}
