/// A value in an AMQP field table (queue arguments, message headers).
///
/// ```swift
/// let args: [String: AMQPFieldValue] = ["x-dead-letter-exchange": "kg.jobs.dlx", "x-delivery-limit": 5]
/// ```
public enum AMQPFieldValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral
{
    case string(String)
    /// Sent as a signed 64-bit integer ("l"), which RabbitMQ accepts for every numeric argument.
    case int(Int64)
    case bool(Bool)

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
