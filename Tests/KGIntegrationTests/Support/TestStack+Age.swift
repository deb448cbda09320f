import Foundation
import XCTest

extension TestStack {
    /// A fresh age key pair made by the `age` tool (`age-keygen`) in `<root>/keys/<name>.txt`:
    /// the identity file's path and its recipient (`age1…`).
    func ageKeyPair(_ name: String = "owner") throws -> (identity: String, recipient: String) {
        let keys = root + "/keys"
        try FileManager.default.createDirectory(atPath: keys, withIntermediateDirectories: true)
        let identity = keys + "/\(name).txt"
        let env = ["PATH": "/usr/bin:/bin"]
        let made = try runCommand("/usr/bin/age-keygen", ["-o", identity], environment: env)
        guard made.exitCode == 0 else { throw StackError("age-keygen failed: \(made.stderr)") }
        let recipient = try runCommand("/usr/bin/age-keygen", ["-y", identity], environment: env).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return (identity, recipient)
    }
}
