import Foundation
import XCTest
import Yams

/// The deployment kit's files (deploy/compose, deploy/systemd, config), read the way the
/// tools that use them read them, for `DeployKitTests`.
enum DeployFiles {
    /// The repository root (this file is Tests/KGIntegrationTests/Support/DeployFiles.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    static func path(_ relative: String) -> String { root + "/" + relative }

    static func text(_ relative: String) throws -> String {
        do {
            return try String(contentsOfFile: path(relative), encoding: .utf8)
        } catch {
            throw StackError("cannot read \(relative): \(error)")
        }
    }

    static func json(_ relative: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(try text(relative).utf8)) as? [String: Any] else {
            throw StackError("\(relative) is not a JSON object")
        }
        return object
    }

    // MARK: compose

    /// deploy/compose/compose.yaml, parsed (YAML merge keys `<<` resolved, as compose does).
    static func compose() throws -> [String: Any] {
        guard let object = try Yams.load(yaml: try text("deploy/compose/compose.yaml")) as? [String: Any] else {
            throw StackError("compose.yaml is not a mapping")
        }
        return object
    }

    static func services(_ compose: [String: Any]) throws -> [String: [String: Any]] {
        guard let services = compose["services"] as? [String: Any] else { throw StackError("compose.yaml has no services") }
        return services.compactMapValues { $0 as? [String: Any] }
    }

    /// A service's environment as strings (compose accepts a mapping or a KEY=VALUE list).
    static func environment(_ service: [String: Any]) -> [String: String] {
        if let mapping = service["environment"] as? [String: Any] {
            return mapping.mapValues { "\($0)" }
        }
        if let list = service["environment"] as? [String] {
            var result: [String: String] = [:]
            for item in list {
                let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                result[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
            return result
        }
        return [:]
    }

    /// Every URL in a service's healthcheck command.
    static func healthcheckURLs(_ service: [String: Any]) -> [String] {
        guard let check = service["healthcheck"] as? [String: Any] else { return [] }
        let words: [String]
        if let list = check["test"] as? [String] {
            words = list
        } else if let line = check["test"] as? String {
            words = line.split(separator: " ").map(String.init)
        } else {
            words = []
        }
        return words.filter { $0.hasPrefix("http://") || $0.hasPrefix("https://") }
    }

    // MARK: systemd

    /// A unit file as (section, key, value) lines; comments and blank lines dropped.
    static func unit(_ relative: String) throws -> [(section: String, key: String, value: String)] {
        var section = ""
        var lines: [(String, String, String)] = []
        for (number, raw) in try text(relative).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw StackError("\(relative):\(number + 1): bad section header \(line)") }
                section = String(line.dropFirst().dropLast())
                continue
            }
            guard let equals = line.firstIndex(of: "="), !section.isEmpty else {
                throw StackError("\(relative):\(number + 1): not a key=value line inside a section: \(line)")
            }
            lines.append(
                (
                    section, String(line[..<equals]).trimmingCharacters(in: .whitespaces),
                    String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
                ))
        }
        return lines
    }

    /// KEY=VALUE lines of an environment file (systemd EnvironmentFile, .env).
    static func environmentFile(_ relative: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for raw in try text(relative).split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else { throw StackError("\(relative): not KEY=VALUE: \(line)") }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }

    // MARK: Dockerfile

    /// Instructions of a Dockerfile with continuation lines joined: (INSTRUCTION, arguments).
    static func dockerfile(_ relative: String) throws -> [(instruction: String, arguments: String)] {
        var logical: [String] = []
        var current = ""
        for raw in try text(relative).split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if current.isEmpty && (line.isEmpty || line.hasPrefix("#")) { continue }
            if line.hasPrefix("#") { continue }
            if line.hasSuffix("\\") {
                current += line.dropLast() + " "
            } else {
                current += line
                logical.append(current)
                current = ""
            }
        }
        return logical.map { line in
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            return (parts[0].uppercased(), parts.count > 1 ? parts[1] : "")
        }
    }

    /// `KEY=VALUE` pairs of ENV instructions.
    static func dockerEnvironment(_ instructions: [(instruction: String, arguments: String)]) -> [String: String] {
        var result: [String: String] = [:]
        for (instruction, arguments) in instructions where instruction == "ENV" {
            for word in arguments.split(separator: " ") where word.contains("=") {
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                result[parts[0]] = parts.count > 1 ? parts[1] : ""
            }
        }
        return result
    }

    // MARK: helpers

    /// The path of a URL ("http://127.0.0.1:8080/readyz" → "/readyz").
    static func urlPath(_ url: String) -> String {
        URLComponents(string: url)?.path ?? url
    }

    static func urlPort(_ url: String) -> Int? {
        URLComponents(string: url)?.port
    }

    /// Every `KG_*` name in a text (variables a file sets or refers to).
    static func kgVariables(in text: String) -> Set<String> {
        let regex = try! NSRegularExpression(pattern: "\\bKG_[A-Z0-9_]+\\b")
        let range = NSRange(text.startIndex..., in: text)
        return Set(regex.matches(in: text, range: range).compactMap { Range($0.range, in: text).map { String(text[$0]) } })
    }

    /// The executable products of Package.swift.
    static func executableProducts() throws -> Set<String> {
        let manifest = try text("Package.swift")
        let regex = try NSRegularExpression(pattern: "\\.executable\\(name: \"([^\"]+)\"")
        let range = NSRange(manifest.startIndex..., in: manifest)
        return Set(regex.matches(in: manifest, range: range).compactMap { Range($0.range(at: 1), in: manifest).map { String(manifest[$0]) } })
    }

    /// Runs a built binary's `--help` for a subcommand; returns its output.
    static func help(_ binary: String, _ subcommand: [String]) throws -> String {
        let r = try runCommand(try TestEnvironment.binDir() + "/" + binary, subcommand + ["--help"], environment: ["PATH": "/usr/bin:/bin"])
        guard r.exitCode == 0 else { throw StackError("\(binary) \(subcommand.joined(separator: " ")) --help failed: \(r.summary)") }
        return r.stdout + r.stderr
    }
}
