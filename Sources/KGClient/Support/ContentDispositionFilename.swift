import Foundation

/// The file name a `Content-Disposition` header suggests, made safe to use as
/// the last component of a local path; nil if there is none or it is unsafe.
///
/// Prefers RFC 6266/8187 `filename*=UTF-8''…` (percent-encoded; UTF-8 or
/// ISO-8859-1) over `filename="…"` (quoted-string with `\` escapes, or a
/// token). Directories are stripped (`/` and `\` both count), so
/// `"../../etc/passwd"` gives `"passwd"`; a result that is empty, `.` or
/// `..`, longer than 255 bytes, or contains NUL or any other control
/// character is rejected.
///
/// ```swift
/// parseContentDispositionFilename(#"attachment; filename="full_backup_20240101_120000.json""#)
/// // "full_backup_20240101_120000.json"
/// ```
public func parseContentDispositionFilename(_ header: String) -> String? {
    let parameters = ContentDispositionParameters(header)
    var candidates: [String] = []
    if let extended = parameters["filename*"], let decoded = ContentDispositionParameters.decodeExtendedValue(extended) {
        candidates.append(decoded)
    }
    if let plain = parameters["filename"] { candidates.append(plain) }
    return candidates.lazy.compactMap(safeFileName).first
}

/// The last path component of `name`, or nil when it cannot safely name a file.
func safeFileName(_ name: String) -> String? {
    let hasControl = name.unicodeScalars.contains { scalar in
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
    if hasControl { return nil }
    let lastComponent =
        name.split(separator: "/", omittingEmptySubsequences: false).last
        .flatMap { $0.split(separator: "\\", omittingEmptySubsequences: false).last } ?? ""
    let trimmed = lastComponent.trimmingCharacters(in: .whitespaces)
    if trimmed.isEmpty || trimmed == "." || trimmed == ".." || trimmed.utf8.count > 255 { return nil }
    return trimmed
}
