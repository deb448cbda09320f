/// How a streamed download ended. Only successful (2xx) downloads return one;
/// other statuses throw `HTTPClientError.http`.
public struct DownloadResult: Sendable, Equatable {
    public let status: Int
    /// Header names are lower-cased.
    public let headers: [String: String]
    /// Body bytes delivered to `onData`.
    public let bytesReceived: Int64

    public init(status: Int, headers: [String: String], bytesReceived: Int64) {
        self.status = status
        self.headers = headers
        self.bytesReceived = bytesReceived
    }
}
