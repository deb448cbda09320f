/// A job as the gateway shows it (`GET /jobs/{id}`), and as status events carry it.
public struct Job: Codable, Sendable, Equatable {
    public var jobID: String
    public var jobType: String
    public var status: JobStatus
    public var progress: JobProgress?
    public var result: JSONObjectText?
    public var error: String?
    public var createdAt: String?
    public var startedAt: String?
    public var completedAt: String?
    public var user: String?
    public var attempts: Int?

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id", jobType = "job_type", status, progress, result, error
        case createdAt = "created_at", startedAt = "started_at", completedAt = "completed_at", user, attempts
    }
}

/// The life cycle of a job: queued → running → completed | failed | cancelled.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case queued, running, completed, failed, cancelled

    public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// Where a running job is. `percent` never goes down.
public struct JobProgress: Codable, Sendable, Equatable {
    public var stage: String
    public var percent: Double
    public var message: String?
    public var itemsTotal: Int?
    public var itemsProcessed: Int?

    public init(stage: String, percent: Double, message: String? = nil, itemsTotal: Int? = nil, itemsProcessed: Int? = nil) {
        self.stage = stage
        self.percent = percent
        self.message = message
        self.itemsTotal = itemsTotal
        self.itemsProcessed = itemsProcessed
    }

    enum CodingKeys: String, CodingKey {
        case stage, percent, message
        case itemsTotal = "items_total", itemsProcessed = "items_processed"
    }
}

/// A JSON object kept as decoded key/values of simple types, for job results
/// whose shape depends on the job type.
public struct JSONObjectText: Codable, Sendable, Equatable {
    public var values: [String: JSONScalar]

    public init(_ values: [String: JSONScalar]) { self.values = values }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        values = try container.decode([String: JSONScalar].self)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    public subscript(key: String) -> JSONScalar? { values[key] }
}

/// A loosely typed JSON value for small documents (job results, error details).
public indirect enum JSONScalar: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONScalar])
    case object([String: JSONScalar])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .double(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONScalar].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONScalar].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .int(let i): try c.encode(i)
        case .double(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d): return Int(exactly: d)
        case .string(let s): return Int(s)
        default: return nil
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var objectValue: [String: JSONScalar]? {
        if case .object(let o) = self { return o }
        return nil
    }
}
