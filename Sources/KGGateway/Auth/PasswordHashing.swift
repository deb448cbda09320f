import HummingbirdBcrypt

/// bcrypt, computed in the gateway (and in `kg-gateway user`), so that no password
/// ever travels to PostgreSQL, where `log_statement` or `log_min_duration_statement`
/// would write it to the server's log.
///
/// Hashes are written as `$2a$` at cost 10, the form pgcrypto's `crypt(…, gen_salt('bf', 10))`
/// made before (issue 14): an older gateway still verifies them during a rolling upgrade,
/// and the stored `$2a$` hashes verify here. For passwords under 255 bytes `$2a$` and
/// `$2b$` compute the same hash (bcrypt reads at most 72 bytes); longer ones are refused.
///
/// ```swift
/// let hash = try PasswordHashing.hash("s3cret")        // "$2a$10$…"
/// PasswordHashing.verify("s3cret", hash: hash)         // true
/// ```
public enum PasswordHashing {
    public static let cost: UInt8 = 10
    /// Longest password, in UTF-8 bytes, that `$2a$` hashes the same as `$2b$`.
    public static let maxPasswordBytes = 254

    public struct PasswordError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A new `$2a$` hash of `password` (slow on purpose: call it off the event loop).
    public static func hash(_ password: String) throws -> String {
        guard !password.isEmpty else { throw PasswordError(description: "the password is empty") }
        guard password.utf8.count <= maxPasswordBytes else {
            throw PasswordError(description: "the password is longer than \(maxPasswordBytes) bytes (bcrypt reads only its first 72)")
        }
        guard !password.utf8.contains(0) else { throw PasswordError(description: "the password contains a NUL character") }
        let hash = Bcrypt.hash(password, cost: cost)
        // "$2b$10$…" → "$2a$10$…": the same bytes for a password of this length.
        guard hash.hasPrefix("$2b$") else { return hash }
        return "$2a$" + hash.dropFirst(4)
    }

    /// Whether `password` matches `hash` (`$2a$` or `$2b$`); false for anything unparsable.
    /// Slow on purpose: call it off the event loop.
    public static func verify(_ password: String, hash: String) -> Bool {
        guard password.utf8.count <= maxPasswordBytes, !password.utf8.contains(0) else {
            // Spend the same time, answer no.
            _ = Bcrypt.verify("", hash: dummyHash)
            return false
        }
        return Bcrypt.verify(password, hash: hash)
    }

    /// Compared against when the user name does not exist, so that an unknown name costs
    /// the same bcrypt as a known one (no enumeration by timing).
    public static let dummyHash: String = Bcrypt.hash("kg: no such user", cost: cost)
}
