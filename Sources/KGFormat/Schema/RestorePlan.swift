/// What a restore does with a backup's schema version, given the database's.
public enum RestorePlan: Equatable, Sendable, CustomStringConvertible {
    /// Same version: records load as they are.
    case direct(version: Int)
    /// An older backup of ours: converters run on each record while streaming.
    case convert(from: Int, to: Int)
    /// A file written by the platform (no `producer`): its own converter, then the chain.
    case platform(to: Int)
    /// A newer backup: refused before anything is touched.
    case refuse(backupVersion: Int, databaseVersion: Int)

    /// Decides from the file's `schema_version` and `producer`.
    public static func make(backupVersion: Int?, fromThisSystem: Bool, databaseVersion: Int) -> RestorePlan {
        guard fromThisSystem else { return .platform(to: databaseVersion) }
        let version = backupVersion ?? SchemaConverters.firstVersion
        if version > databaseVersion { return .refuse(backupVersion: version, databaseVersion: databaseVersion) }
        if version == databaseVersion { return .direct(version: version) }
        return .convert(from: version, to: databaseVersion)
    }

    /// The converters to run on each record, in order.
    public var converters: [SchemaConverter] {
        switch self {
        case .direct, .refuse: return []
        case .convert(let from, let to): return SchemaConverters.chain(from: from, to: to)
        case .platform(let to): return [SchemaConverters.platform] + SchemaConverters.chain(from: SchemaConverters.platformBaseVersion, to: to)
        }
    }

    /// The refusal, with the next step.
    public var refusal: String? {
        guard case .refuse(let backup, let database) = self else { return nil }
        return "backup needs schema v\(backup), database is at v\(database): apply migrations first (kg-gateway migrate)"
    }

    public var description: String {
        switch self {
        case .direct(let v): return "direct restore (schema v\(v))"
        case .convert(let from, let to): return "convert from schema v\(from) to v\(to) while restoring"
        case .platform(let to): return "platform backup: convert to schema v\(to) while restoring"
        case .refuse(let b, let d): return "refuse: backup needs schema v\(b), database is at v\(d)"
        }
    }

    /// Applies every converter to one record.
    public func convert(_ section: String, _ record: JSONValue) -> JSONValue {
        converters.reduce(record) { $1(section, $0) }
    }
}
