/// What the reference backup says about one missing concept (`kg admin stitch --backup FILE`).
public struct StitchReference: Codable, Sendable, Equatable {
    public var conceptID: String
    public var label: String?
    public var embedding: [Double]?

    public init(conceptID: String, label: String?, embedding: [Double]?) {
        self.conceptID = conceptID
        self.label = label
        self.embedding = embedding
    }

    enum CodingKeys: String, CodingKey { case conceptID = "concept_id", label, embedding }
}

/// A stitch job's `params`: connect the links kept aside by `--external-deps defer`
/// to existing concepts: same id, else the same label (case-insensitive), else the
/// nearest embedding by cosine similarity at or above `threshold`.
public struct StitchJobParams: Codable, Sendable, Equatable, RiskyJobOptions {
    /// Labels and embeddings of missing concepts (from a reference backup), inline: jobs queued
    /// before the gateway streamed requests to temp storage. New jobs name ``referencesFile``.
    public var references: [StitchReference]
    /// The request body as received (`stitch_<job>.json` in temp storage), which holds the
    /// references; owned by the job (removed when it ends). Nil: no references (id matching only).
    public var referencesFile: String?
    /// How many references ``referencesFile`` holds.
    public var referenceCount: Int?
    /// Nil: the server's `stitch_threshold`.
    public var threshold: Double?
    public var dryRun: Bool
    public var checkpoint: Bool?
    public var keepCheckpoint: Bool?
    public var noWait: Bool?

    public init(
        references: [StitchReference], threshold: Double?, dryRun: Bool, checkpoint: Bool?, keepCheckpoint: Bool?, noWait: Bool?,
        referencesFile: String? = nil, referenceCount: Int? = nil
    ) {
        self.references = references
        self.referencesFile = referencesFile
        self.referenceCount = referenceCount
        self.threshold = threshold
        self.dryRun = dryRun
        self.checkpoint = checkpoint
        self.keepCheckpoint = keepCheckpoint
        self.noWait = noWait
    }

    enum CodingKeys: String, CodingKey {
        case references, threshold, dryRun = "dry_run", checkpoint, keepCheckpoint = "keep_checkpoint", noWait = "no_wait"
        case referencesFile = "references_file", referenceCount = "reference_count"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        references = try c.decodeIfPresent([StitchReference].self, forKey: .references) ?? []
        referencesFile = try c.decodeIfPresent(String.self, forKey: .referencesFile)
        referenceCount = try c.decodeIfPresent(Int.self, forKey: .referenceCount)
        threshold = try c.decodeIfPresent(Double.self, forKey: .threshold)
        dryRun = try c.decodeIfPresent(Bool.self, forKey: .dryRun) ?? false
        checkpoint = try c.decodeIfPresent(Bool.self, forKey: .checkpoint)
        keepCheckpoint = try c.decodeIfPresent(Bool.self, forKey: .keepCheckpoint)
        noWait = try c.decodeIfPresent(Bool.self, forKey: .noWait)
    }
}

/// One reconnection: the links waiting for `missing` now point at `conceptID`.
public struct Reconnection: Codable, Sendable, Equatable {
    public var missing: String
    public var conceptID: String
    /// `id`, `label` or `embedding`.
    public var how: String
    /// Cosine similarity, for `embedding`.
    public var similarity: Double?
    /// How many waiting links it concerns.
    public var links: Int

    public init(missing: String, conceptID: String, how: String, similarity: Double?, links: Int) {
        self.missing = missing
        self.conceptID = conceptID
        self.how = how
        self.similarity = similarity
        self.links = links
    }

    enum CodingKeys: String, CodingKey { case missing, conceptID = "concept_id", how, similarity, links }
}

/// What a finished stitch reports in its `result`.
public struct StitchJobResult: Codable, Sendable, Equatable, CheckpointedResult {
    public var dryRun: Bool
    public var threshold: Double
    /// Every reconnection made (or, in a dry run, that would be made).
    public var reconnections: [Reconnection]
    /// Missing concepts matched per way (`id`, `label`, `embedding`) and left unmatched (`unmatched`).
    public var outcomes: [String: Int]
    /// Links connected to the graph (instances, relationships).
    public var connected: [String: Int]
    /// Links still waiting afterwards.
    public var waiting: [String: Int]
    public var seconds: Double
    public var checkpoint: String?
    public var checkpointID: String?

    public init(
        dryRun: Bool, threshold: Double, reconnections: [Reconnection], outcomes: [String: Int], connected: [String: Int],
        waiting: [String: Int], seconds: Double
    ) {
        self.dryRun = dryRun
        self.threshold = threshold
        self.reconnections = reconnections
        self.outcomes = outcomes
        self.connected = connected
        self.waiting = waiting
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case dryRun = "dry_run", threshold, reconnections, outcomes, connected, waiting, seconds, checkpoint
        case checkpointID = "checkpoint_id"
    }
}
