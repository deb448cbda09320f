import Foundation
import KGDatabase
import NIOPosix

/// Checks a login's password in the gateway: the user's stored hash is read from
/// the database (the password is not sent), and bcrypt runs on a thread pool of its
/// own, so that neither the event loops, nor the cooperative pool, nor NIO's shared
/// pool (file I/O) wait for it. An unknown name is checked against a dummy hash of
/// the same cost: it takes as long as a wrong password for a known one.
///
/// At most `maxWaiting` checks queue for a thread; more are refused at once
/// (``Busy``), so that a flood of logins from many addresses cannot pile up. The
/// threads run at a lower priority (nice 10): under a login flood the CPU goes to
/// the event loops and the other requests first.
final class PasswordVerifier: Sendable {
    struct Busy: Error {}

    private let pool: PGPool
    private let threads: NIOThreadPool
    private let admission: Admission
    let threadCount: Int

    init(pool: PGPool, threads: Int = 2, maxWaiting: Int = 64) {
        self.pool = pool
        self.threadCount = threads
        self.threads = NIOThreadPool(numberOfThreads: threads)
        self.threads.start()
        self.admission = Admission(limit: threads + maxWaiting)
    }

    /// The user's role when `password` is theirs, else nil (unknown name or wrong password).
    func verify(username: String, password: String) async throws -> String? {
        guard await admission.enter() else { throw Busy() }
        do {
            let stored = try await pool.run { db in try UserStore(db).credentials(username: username) }
            let hash = stored?.passwordHash ?? PasswordHashing.dummyHash
            let matches = try await threads.runIfActive {
                Self.lowerThisThreadsPriority()
                return PasswordHashing.verify(password, hash: hash)
            }
            await admission.leave()
            guard let stored, matches else { return nil }
            return stored.role
        } catch {
            await admission.leave()
            throw error
        }
    }

    /// A new hash (user creation, password change), computed on the same threads.
    func hash(_ password: String) async throws -> String {
        try await threads.runIfActive {
            Self.lowerThisThreadsPriority()
            return try PasswordHashing.hash(password)
        }
    }

    /// Linux nice values are per thread: `who` 0 is the calling thread, so this lowers only this pool thread.
    private static func lowerThisThreadsPriority() {
        #if os(Linux)
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
        #endif
    }

    func shutdown() {
        threads.shutdownGracefully { _ in }
    }

    /// Counts checks in progress or waiting.
    private actor Admission {
        let limit: Int
        var current = 0
        init(limit: Int) { self.limit = limit }
        func enter() -> Bool {
            guard current < limit else { return false }
            current += 1
            return true
        }
        func leave() { current -= 1 }
    }
}
