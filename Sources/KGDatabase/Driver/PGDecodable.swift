/// A Swift type a column's text (libpq's text format) decodes to, as postgres-nio's
/// `PostgresDecodable` does for its wire formats. `nil` when the text is not one.
public protocol PGDecodable {
    init?(pgText: String)
}

extension String: PGDecodable {
    public init?(pgText: String) { self = pgText }
}

extension Int: PGDecodable {
    /// `count(*)`, `int4`, `int8`, `numeric` without a fraction.
    public init?(pgText: String) { self.init(pgText) }
}

extension Double: PGDecodable {
    /// `float8`, `numeric`, `extract(epoch …)`; also `NaN` and `Infinity` as PostgreSQL writes them.
    public init?(pgText: String) { self.init(pgText) }
}

extension Bool: PGDecodable {
    /// `boolean`, which PostgreSQL writes as `t` or `f`.
    public init?(pgText: String) {
        switch pgText {
        case "t": self = true
        case "f": self = false
        default: return nil
        }
    }
}
