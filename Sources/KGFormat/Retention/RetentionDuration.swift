import Foundation

/// A span of calendar time in restic's spelling: `1y5m7d2h` (years, months,
/// days, hours; `m` is months). Used by `--keep-within`.
///
/// ```swift
/// RetentionDuration(parsing: "1m14d")   // 1 month, 14 days
/// RetentionDuration(parsing: "30")      // nil: every number needs its unit
/// ```
public struct RetentionDuration: Sendable, Equatable, CustomStringConvertible {
    public var years = 0
    public var months = 0
    public var days = 0
    public var hours = 0

    public init(years: Int = 0, months: Int = 0, days: Int = 0, hours: Int = 0) {
        self.years = years
        self.months = months
        self.days = days
        self.hours = hours
    }

    /// Nil for anything but digits each followed by one of `y m d h` (at least one, each unit once).
    public init?(parsing text: String) {
        var number = ""
        var seen = Set<Character>()
        for character in text {
            if character.isASCII && character.isNumber {
                number.append(character)
                continue
            }
            guard !number.isEmpty, let value = Int(number), !seen.contains(character) else { return nil }
            seen.insert(character)
            switch character {
            case "y": years = value
            case "m": months = value
            case "d": days = value
            case "h": hours = value
            default: return nil
            }
            number = ""
        }
        guard number.isEmpty, !seen.isEmpty else { return nil }
    }

    public var isZero: Bool { years == 0 && months == 0 && days == 0 && hours == 0 }

    /// `time` moved back by this span (calendar years, months and days in UTC, then hours).
    public func before(_ time: Date, calendar: Calendar) -> Date {
        let back = calendar.date(byAdding: DateComponents(year: -years, month: -months, day: -days), to: time) ?? time
        return back.addingTimeInterval(-Double(hours) * 3600)
    }

    public var description: String {
        var text = ""
        if years > 0 { text += "\(years)y" }
        if months > 0 { text += "\(months)m" }
        if days > 0 { text += "\(days)d" }
        if hours > 0 { text += "\(hours)h" }
        return text.isEmpty ? "0h" : text
    }
}
