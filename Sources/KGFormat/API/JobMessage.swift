/// The message published on the job queue: a claim check naming the job row.
public struct JobMessage: Codable, Sendable {
    public var jobID: String
    public var jobType: String

    public init(jobID: String, jobType: String) {
        self.jobID = jobID
        self.jobType = jobType
    }

    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case jobType = "job_type"
    }
}
