/// A kept checkpoint as `GET /admin/checkpoints` lists it.
///
/// ```json
/// {"checkpoint_id": "9f…", "job_id": "9f…", "job_type": "restore", "user": "admin",
///  "file_name": ".checkpoint_9f…_20261128_101500.json", "bytes": 1234, "status": "kept",
///  "reason": "…", "created_at": "…", "kept_at": "…"}
/// ```
public struct CheckpointInfo: Codable, Sendable, Equatable {
    public var checkpointID: String
    public var jobID: String
    public var jobType: String
    public var user: String?
    public var fileName: String
    public var bytes: Int
    /// `kept`, or `rollback_failed` (the graph could not be rolled back: restore this file by hand).
    public var status: String
    public var reason: String?
    public var createdAt: String?
    public var keptAt: String?

    enum CodingKeys: String, CodingKey {
        case checkpointID = "checkpoint_id", jobID = "job_id", jobType = "job_type", user, fileName = "file_name"
        case bytes, status, reason, createdAt = "created_at", keptAt = "kept_at"
    }
}
