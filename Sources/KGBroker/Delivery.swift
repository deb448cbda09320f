/// One message delivered to a consumer, copied out of rabbitmq-c's memory.
///
/// ```swift
/// if let delivery = try connection.nextDelivery(timeout: 0.2) {
///     handle(delivery.body)
///     try connection.ack(deliveryTag: delivery.deliveryTag)
/// }
/// ```
public struct Delivery: Sendable, Equatable {
    /// Tag to ack, nack or reject on the same connection; meaningless on any other.
    public var deliveryTag: UInt64
    /// True when the broker delivered this message before (to this or another consumer).
    public var redelivered: Bool
    public var exchange: String
    public var routingKey: String
    public var body: [UInt8]
    /// String-valued headers only (other header types are left out).
    public var headers: [String: String]
    /// The `message-id` property, when the publisher set one.
    public var messageId: String?
    /// `x-delivery-count` (set by quorum queues) when present.
    public var deliveryCount: Int?

    public init(
        deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String, body: [UInt8],
        headers: [String: String] = [:], messageId: String? = nil, deliveryCount: Int? = nil
    ) {
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.body = body
        self.headers = headers
        self.messageId = messageId
        self.deliveryCount = deliveryCount
    }
}
