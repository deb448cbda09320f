import Foundation

/// Backup file names per the contract: `full_backup_YYYYMMDD_HHMMSS.json` and
/// `<ontology>_backup_YYYYMMDD_HHMMSS.json` (UTC), `.gz` or `.zst` appended when compressed.
public enum BackupFileName {
    /// The file name for a backup taken at `date`.
    public static func make(type: BackupType, ontology: String?, date: Date, gzip: Bool) -> String {
        make(type: type, ontology: ontology, date: date, compression: gzip ? .gzip : .none)
    }

    /// The file name for a backup taken at `date`, compressed by `compression`.
    public static func make(type: BackupType, ontology: String?, date: Date, compression: BackupCompression) -> String {
        let stamp = timestamp(date)
        let base: String
        switch type {
        case .full: base = "full_backup_\(stamp).json"
        case .ontology: base = "\(safeComponent(ontology ?? "ontology"))_backup_\(stamp).json"
        }
        return base + compression.fileSuffix
    }

    /// `YYYYMMDD_HHMMSS` in UTC.
    public static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02d_%02d%02d%02d", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// Makes any user text safe as one file-name component on any file system
    /// while keeping the name recognisable: letters and digits of any script
    /// (NFC), `-`, `_` and `.` survive; everything else (separators, spaces,
    /// punctuation, controls) becomes `_`; no leading dot (no hidden files, no
    /// `..`); at most 120 bytes of UTF-8 (a file name may have 255), cut at a
    /// character; never empty.
    public static func safeComponent(_ text: String) -> String {
        var out = ""
        for scalar in text.precomposedStringWithCanonicalMapping.unicodeScalars {
            let keep: Bool
            if scalar.isASCII {
                let ascii = UInt8(scalar.value)
                keep =
                    (ascii >= 0x30 && ascii <= 0x39) || (ascii >= 0x41 && ascii <= 0x5A) || (ascii >= 0x61 && ascii <= 0x7A)
                    || ascii == 0x2D || ascii == 0x5F || ascii == 0x2E
            } else {
                let properties = scalar.properties
                keep =
                    (properties.isAlphabetic || properties.numericType == .decimal) && !properties.isWhitespace
                    && properties.generalCategory != .format && properties.generalCategory != .privateUse
            }
            if keep { out.unicodeScalars.append(scalar) } else { out.append("_") }
        }
        while out.hasPrefix(".") { out.removeFirst() }
        while out.contains("__") { out = out.replacingOccurrences(of: "__", with: "_") }
        while out.utf8.count > 120 { out.removeLast() }
        let meaningful = out.contains { $0 != "_" && $0 != "." }
        return meaningful ? out : "ontology"
    }
}

/// The two kinds of backup.
public enum BackupType: String, Codable, Sendable, CaseIterable {
    case full
    case ontology

    /// The `type` value inside the file.
    public var fileType: String {
        switch self {
        case .full: return "full_backup"
        case .ontology: return "ontology_backup"
        }
    }
}
