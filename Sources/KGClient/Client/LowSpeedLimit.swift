/// Abort a transfer that stays below `bytesPerSecond` for `seconds` (libcurl's
/// CURLOPT_LOW_SPEED_LIMIT / _TIME). Off unless given to `HTTPClient`.
///
/// libcurl measures speed averaged over the last few seconds, so a burst
/// before a stall delays the abort by up to ~5 s beyond `seconds`.
public struct LowSpeedLimit: Sendable, Equatable {
    public let bytesPerSecond: Int
    public let seconds: Int

    public init(bytesPerSecond: Int, seconds: Int) {
        self.bytesPerSecond = bytesPerSecond
        self.seconds = seconds
    }
}
