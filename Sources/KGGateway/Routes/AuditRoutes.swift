import Foundation
import Hummingbird
import KGDatabase

/// `GET /admin/audit?user=&action=&since=&limit=`: the audit trail, newest first (admins only).
/// `since` is an ISO 8601 time (`2026-11-28T10:00:00Z`, `2026-11-28`) or an age (`90m`, `24h`, `7d`).
struct AuditRoutes {
    let pool: PGPool

    static let defaultLimit = 100
    static let maxLimit = 1000

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/admin/audit") { request, context -> Response in
            _ = try context.requireAdmin()
            let query = request.uri.queryParameters
            let user = query.get("user").flatMap { $0.isEmpty ? nil : $0 }
            let action = query.get("action").flatMap { $0.isEmpty ? nil : $0 }
            var since: Double?
            if let text = query.get("since"), !text.isEmpty {
                guard let date = AuditSince.parse(text, now: Date()) else {
                    throw APIError.badRequest(
                        "cannot read since=\"\(text)\"",
                        detail: "use an ISO 8601 time (2026-11-28T10:00:00Z or 2026-11-28) or an age (30m, 24h, 7d)")
                }
                since = date.timeIntervalSince1970
            }
            var limit = Self.defaultLimit
            if let text = query.get("limit") {
                guard let value = Int(text), (1...Self.maxLimit).contains(value) else {
                    throw APIError.badRequest("limit must be a number from 1 to \(Self.maxLimit)", detail: "got \"\(text)\"")
                }
                limit = value
            }
            let rows = try await pool.run { [since, limit] db in
                try AuditLog.listJSON(db, actor: user, action: action, sinceEpoch: since, limit: limit)
            }
            return JSON.response("{\"entries\":[" + rows.joined(separator: ",") + "]}")
        }
    }
}

/// Reads `since`: an ISO 8601 time or date (UTC unless it says otherwise), or an age
/// such as `45s`, `30m`, `24h`, `7d` counted back from `now`.
enum AuditSince {
    static func parse(_ text: String, now: Date) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let unit = trimmed.last, let amount = Double(trimmed.dropLast()), amount >= 0 {
            let seconds: Double? =
                switch unit {
                case "s": 1
                case "m": 60
                case "h": 3600
                case "d": 86400
                default: nil
                }
            if let seconds { return now.addingTimeInterval(-amount * seconds) }
        }
        let full = ISO8601DateFormatter()
        if let date = full.date(from: trimmed) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = fractional.date(from: trimmed) { return date }
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        return day.date(from: trimmed)
    }
}
