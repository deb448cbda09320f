import Crypto
import Foundation

/// One recipient stanza of an age header: `-> TYPE ARGS…` and its body.
struct AgeStanza: Equatable {
    var type: String
    var arguments: [String]
    var body: [UInt8]

    /// The stanza as it appears in the header: the body in base64 (no padding)
    /// wrapped at 64 columns, its last line always shorter than 64 (empty if need be).
    var text: String {
        var out = "-> " + ([type] + arguments).joined(separator: " ") + "\n"
        let encoded = AgeBase64.encode(body)
        var index = encoded.startIndex
        while true {
            let end = encoded.index(index, offsetBy: 64, limitedBy: encoded.endIndex) ?? encoded.endIndex
            let line = encoded[index..<end]
            out += line + "\n"
            if line.count < 64 { break }
            index = end
        }
        return out
    }
}

/// Base64 as age writes it: the standard alphabet, no padding, canonical only.
enum AgeBase64 {
    static func encode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Nil for padding, characters outside the alphabet, or a non-canonical last character.
    static func decode(_ text: String) -> [UInt8]? {
        guard !text.contains("="), text.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
        var padded = text
        while padded.utf8.count % 4 != 0 { padded += "=" }
        guard let data = Data(base64Encoded: padded) else { return nil }
        let bytes = [UInt8](data)
        guard encode(bytes) == text else { return nil }
        return bytes
    }
}

/// The header of an age file (age-encryption.org/v1): its stanzas and its MAC.
struct AgeHeader {
    static let versionLine = "age-encryption.org/v1"
    static let maxSize = 1 << 20

    var stanzas: [AgeStanza]
    var mac: [UInt8] = []

    /// The header up to and including `---` (what the MAC covers).
    var textBeforeMAC: String {
        Self.versionLine + "\n" + stanzas.map(\.text).joined() + "---"
    }

    /// The header as written: what the MAC covers, a space, the MAC, a newline.
    var encoded: [UInt8] {
        Array((textBeforeMAC + " " + AgeBase64.encode(mac) + "\n").utf8)
    }

    static func macKey(fileKey: SymmetricKey) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(inputKeyMaterial: fileKey, salt: [UInt8](), info: Array("header".utf8), outputByteCount: 32)
    }

    func computeMAC(fileKey: SymmetricKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(textBeforeMAC.utf8), using: Self.macKey(fileKey: fileKey)))
    }

    /// Parses a whole header (its bytes up to and including the MAC line's newline).
    static func parse(_ bytes: [UInt8]) throws -> AgeHeader {
        func malformed(_ why: String) -> AgeError {
            AgeError(.malformed, "not a valid age file: \(why)")
        }
        guard let text = String(bytes: bytes, encoding: .utf8) else { throw malformed("the header is not text") }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.last == "" else { throw malformed("the header does not end with a newline") }
        lines.removeLast()
        guard lines.first == versionLine else { throw malformed("it does not start with \(versionLine)") }
        var stanzas: [AgeStanza] = []
        var index = 1
        while index < lines.count {
            let line = lines[index]
            if line.hasPrefix("--- ") || line == "---" {
                guard index == lines.count - 1 else { throw malformed("text after the header's MAC line") }
                let macText = String(line.dropFirst(4))
                guard line.hasPrefix("--- "), let mac = AgeBase64.decode(macText), mac.count == 32 else {
                    throw malformed("the header's MAC line is not `--- ` and a 32-byte MAC")
                }
                return AgeHeader(stanzas: stanzas, mac: mac)
            }
            guard line.hasPrefix("-> ") else { throw malformed("a header line starts neither with `->` nor `---`") }
            let words = line.dropFirst(3).split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard let type = words.first, !type.isEmpty, words.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { $0 >= 33 && $0 <= 126 } }) else {
                throw malformed("a stanza line has an empty or invalid argument")
            }
            var body = ""
            index += 1
            while true {
                guard index < lines.count else { throw malformed("a stanza's body does not end") }
                let bodyLine = lines[index]
                index += 1
                guard bodyLine.utf8.count <= 64 else { throw malformed("a stanza body line is longer than 64 columns") }
                body += bodyLine
                if bodyLine.utf8.count < 64 { break }
            }
            guard let decoded = AgeBase64.decode(body) else { throw malformed("a stanza body is not canonical base64") }
            stanzas.append(AgeStanza(type: type, arguments: Array(words.dropFirst()), body: decoded))
        }
        throw malformed("the header has no MAC line")
    }
}
