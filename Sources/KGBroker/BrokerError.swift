/// Everything that can go wrong when talking to RabbitMQ, with messages an operator can act on.
///
/// ```swift
/// do { try await publisher.publish(job: body, messageId: id) }
/// catch BrokerError.unreachable { /* answer 503 */ }
/// ```
public enum BrokerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The AMQP URL could not be parsed. The associated value says what is wrong.
    case invalidURL(String)
    /// No connection could be made (or none within the deadline).
    /// Values: the URL without its password, and the reason.
    case unreachable(String, String)
    /// An open connection or its channel was closed (network, broker restart, heartbeat timeout,
    /// channel error). The connection object is unusable afterwards.
    case connectionLost(String)
    /// The broker refused an operation (for example a queue redeclared with other arguments).
    case protocolError(String)
    /// A mandatory publish could not be routed (no queue bound).
    case publishRejected(String)
    /// The broker nacked a confirmed publish: it did not take the message (for a quorum queue,
    /// typically while it has no leader). Publishing again may succeed.
    case publishNacked(String)
    /// The component was stopped; no more work is accepted.
    case stopped(String)

    public var description: String {
        switch self {
        case .invalidURL(let why):
            return "invalid AMQP URL: \(why) (expected amqp://user:password@host:port/vhost)"
        case .unreachable(let url, let why):
            return "RabbitMQ at \(url) is unreachable: \(why). Check that the broker runs and that the URL (KG_AMQP_URL) is right."
        case .connectionLost(let why):
            return "connection to RabbitMQ lost: \(why)"
        case .protocolError(let why):
            return "RabbitMQ refused the operation: \(why)"
        case .publishRejected(let why):
            return "RabbitMQ did not accept the message: \(why)"
        case .publishNacked(let why):
            return "RabbitMQ did not take the message: \(why)"
        case .stopped(let what):
            return "\(what) is stopped"
        }
    }
}

extension Error {
    /// The reason alone (no URL, no advice), for messages that wrap another error.
    var brokerReason: String {
        switch self as? BrokerError {
        case .unreachable(_, let why)?: return why
        case .connectionLost(let why)?, .protocolError(let why)?, .publishRejected(let why)?, .publishNacked(let why)?,
            .invalidURL(let why)?:
            return why
        case .stopped(let what)?: return "\(what) is stopped"
        case nil: return "\(self)"
        }
    }
}
