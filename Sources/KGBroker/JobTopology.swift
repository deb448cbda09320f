/// The exchanges and queues of the job system, all named from one prefix so that tests and
/// parallel stacks can isolate themselves.
///
/// ```
/// <prefix>.jobs      direct exchange ──"job"──▶ <prefix>.jobs.work  (durable, DLX → <prefix>.jobs.dlx)
/// <prefix>.jobs.dlx  direct exchange ──"job"──▶ <prefix>.jobs.dead  (durable)
/// <prefix>.status    topic exchange, routing keys job.<job_id>.<event>
/// ```
///
/// ```swift
/// let topology = JobTopology(prefix: "kg")
/// try topology.declare(on: connection)   // idempotent: every gateway and worker may call it
/// ```
public struct JobTopology: Sendable, Equatable {
    public var prefix: String
    /// `x-queue-type` of the job queue: "classic" (the default) or "quorum" (`broker_queue_type`).
    public var queueType: String
    /// `x-delivery-limit` (quorum queues only): deliveries before a job is dead-lettered.
    public var deliveryLimit: Int?

    public init(prefix: String = "kg", queueType: String = "classic", deliveryLimit: Int? = nil) {
        self.prefix = prefix
        self.queueType = queueType
        self.deliveryLimit = deliveryLimit
    }

    /// Durable direct exchange the gateways publish jobs to.
    public var jobExchange: String { "\(prefix).jobs" }
    /// Durable queue the workers consume.
    public var jobQueue: String { "\(prefix).jobs.work" }
    /// Routing key of job messages (and of their dead letters).
    public var jobRoutingKey: String { "job" }
    /// Exchange rejected (or too often delivered) jobs go to.
    public var deadLetterExchange: String { "\(prefix).jobs.dlx" }
    public var deadLetterQueue: String { "\(prefix).jobs.dead" }
    /// Durable topic exchange for status events.
    public var statusExchange: String { "\(prefix).status" }

    /// Arguments of the job queue.
    public var jobQueueArguments: [String: AMQPFieldValue] {
        var arguments: [String: AMQPFieldValue] = [
            "x-dead-letter-exchange": .string(deadLetterExchange),
            "x-dead-letter-routing-key": .string(jobRoutingKey),
        ]
        // Classic is the default; leaving the argument out keeps queues declared without it valid.
        if queueType != "classic" { arguments["x-queue-type"] = .string(queueType) }
        if let deliveryLimit { arguments["x-delivery-limit"] = .int(Int64(deliveryLimit)) }
        return arguments
    }

    /// Declares everything (idempotent as long as the arguments do not change).
    public func declare(on connection: AMQPConnection) throws {
        try declareDeadLetterQueue(on: connection)
        try declareJobFlow(on: connection)
    }

    /// What publishing and consuming jobs needs: the exchanges, the job queue and its binding.
    /// On a cluster with a quorum job queue all of it survives the loss of a node.
    public func declareJobFlow(on connection: AMQPConnection) throws {
        try connection.declareExchange(name: deadLetterExchange, type: "direct", durable: true)
        try connection.declareExchange(name: jobExchange, type: "direct", durable: true)
        try connection.declareQueue(name: jobQueue, durable: true, arguments: jobQueueArguments)
        try connection.bindQueue(jobQueue, exchange: jobExchange, routingKey: jobRoutingKey)
        try connection.declareExchange(name: statusExchange, type: "topic", durable: true)
    }

    /// The dead-letter queue and its binding. It is a classic queue: on a cluster it lives on
    /// one node, and while that node is down RabbitMQ refuses to declare it (404 "home node …
    /// is down or inaccessible") and closes the channel.
    public func declareDeadLetterQueue(on connection: AMQPConnection) throws {
        try connection.declareExchange(name: deadLetterExchange, type: "direct", durable: true)
        try connection.declareQueue(name: deadLetterQueue, durable: true)
        try connection.bindQueue(deadLetterQueue, exchange: deadLetterExchange, routingKey: jobRoutingKey)
    }

    /// `declareJobFlow` on `connection`, then the dead-letter queue on a connection of its own
    /// to the same node, so that a dead-letter queue whose node is down (a cluster that lost a
    /// node) never stops jobs from flowing; returns that problem, for a warning, or nil.
    public func declareTolerantly(on connection: AMQPConnection) throws -> String? {
        try declareJobFlow(on: connection)
        do {
            let side = try AMQPConnection(url: connection.url, heartbeatSeconds: 0, connectTimeout: 2, rpcTimeout: 5)
            defer { side.close() }
            try declareDeadLetterQueue(on: side)
            return nil
        } catch {
            return "the dead-letter queue '\(deadLetterQueue)' cannot be declared (\(error.brokerReason)); "
                + "jobs flow, but a job dead-lettered now is dropped until its node returns"
        }
    }

    /// Deletes everything `declare` made, messages included (for tests and teardown).
    public func delete(on connection: AMQPConnection) throws {
        try connection.deleteQueue(jobQueue)
        try connection.deleteQueue(deadLetterQueue)
        try connection.deleteExchange(jobExchange)
        try connection.deleteExchange(deadLetterExchange)
        try connection.deleteExchange(statusExchange)
    }
}
