import Synchronization

/// How many backup checks (`POST /admin/backup/verify`) run at once on this gateway:
/// at most `perUser` for one user (`max_verifies_per_user`) and `total` for everyone
/// (`max_concurrent_verifies`); 0 means no limit. A check takes its slot before its
/// body is read and gives it back when it ends, however it ends.
///
/// ```swift
/// if let refusal = slots.acquire(user: "ana") { throw refusal.error }
/// defer { slots.release(user: "ana") }
/// ```
final class CheckSlots: Sendable {
    let perUser: Int
    let total: Int

    private struct Counts {
        var total = 0
        var users: [String: Int] = [:]
    }
    private let counts = Mutex(Counts())

    /// Why a check was refused.
    enum Refusal: Equatable {
        /// The user already runs `perUser` checks.
        case user(running: Int, limit: Int)
        /// The gateway already runs `total` checks.
        case gateway(running: Int, limit: Int)
    }

    init(perUser: Int, total: Int) {
        self.perUser = perUser
        self.total = total
    }

    /// Takes a slot for `user`, or says which limit is reached (nothing taken).
    func acquire(user: String) -> Refusal? {
        counts.withLock { counts in
            let mine = counts.users[user, default: 0]
            if perUser > 0, mine >= perUser { return .user(running: mine, limit: perUser) }
            if total > 0, counts.total >= total { return .gateway(running: counts.total, limit: total) }
            counts.total += 1
            counts.users[user] = mine + 1
            return nil
        }
    }

    func release(user: String) {
        counts.withLock { counts in
            counts.total = max(0, counts.total - 1)
            let mine = counts.users[user, default: 1] - 1
            counts.users[user] = mine > 0 ? mine : nil
        }
    }

    /// Checks running now (for tests and logs).
    var running: Int { counts.withLock { $0.total } }
}
