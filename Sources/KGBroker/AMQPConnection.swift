import CRabbitMQ
import Foundation

/// One rabbitmq-c connection with one channel (channel 1). A thin wrapper: no reconnects, no
/// locking.
///
/// **Not thread-safe.** rabbitmq-c keeps no locks and services heartbeats only inside its own
/// calls, so create, use and close a connection on one thread (see `BrokerThread`), and call it
/// regularly (`nextDelivery(timeout:)` or `poll(timeout:)`) so heartbeats flow.
///
/// Once the connection or its channel is closed (network, broker, heartbeat timeout, channel
/// error) every call throws `BrokerError.connectionLost`; open a new connection.
///
/// ```swift
/// let connection = try AMQPConnection(url: url, heartbeatSeconds: 30)
/// try connection.enablePublisherConfirms()
/// try connection.publish(exchange: "kg.jobs", routingKey: "job", body: bytes, mandatory: true)
/// let queue = try connection.declareQueue(name: "", exclusive: true, autoDelete: true)
/// let tag = try connection.consume(queue: queue, noAck: false)
/// while let delivery = try connection.nextDelivery(timeout: 1) {
///     try connection.ack(deliveryTag: delivery.deliveryTag)
/// }
/// connection.close()
/// ```
public final class AMQPConnection {
    public let url: AMQPURL
    /// How long `publish` waits for the broker's confirm when confirms are enabled.
    public var confirmTimeout: Double = 30

    private var state: amqp_connection_state_t?
    private let channel: amqp_channel_t = 1
    /// Set once the connection or channel is unusable; every call then throws it.
    private var lostReason: String?
    private var confirmsEnabled = false
    /// Delivery tag the broker will give the next confirmed publish (confirm.select starts at 1).
    private var nextPublishTag: UInt64 = 1
    private var awaitedTag: UInt64 = 0
    private var awaitedOutcome: ConfirmOutcome?
    private var returnedReason: String?
    /// Deliveries read while waiting for something else (a confirm, `poll`).
    private var pending: [Delivery] = []
    private var cancelledConsumers: [String] = []

    private enum ConfirmOutcome { case ack, nack }

    /// Opens a TCP connection, logs in (PLAIN) and opens channel 1.
    ///
    /// - Parameters:
    ///   - heartbeatSeconds: heartbeat interval to negotiate (0 disables heartbeats).
    ///   - connectTimeout: bound for the TCP connect and for the login handshake.
    ///   - rpcTimeout: bound for each synchronous AMQP method (declare, bind, consume…); a
    ///     timeout leaves the connection unusable.
    /// - Throws: `BrokerError.unreachable` with the URL (password hidden) and the reason.
    public init(url: AMQPURL, heartbeatSeconds: Int = 30, connectTimeout: Double = 5, rpcTimeout: Double = 30) throws {
        self.url = url
        guard let state = amqp_new_connection() else {
            throw BrokerError.unreachable(url.description, "cannot allocate a connection")
        }
        guard let socket = amqp_tcp_socket_new(state) else {
            amqp_destroy_connection(state)
            throw BrokerError.unreachable(url.description, "cannot create a socket")
        }
        var connectTV = makeTimeval(connectTimeout)
        let opened = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &connectTV)
        guard opened == AMQP_STATUS_OK.rawValue else {
            amqp_destroy_connection(state)
            throw BrokerError.unreachable(url.description, amqpErrorString(opened))
        }
        amqp_set_handshake_timeout(state, &connectTV)
        var rpcTV = makeTimeval(rpcTimeout)
        amqp_set_rpc_timeout(state, &rpcTV)

        let login = kg_amqp_login_plain(
            state, url.vhost, 0, 131_072, Int32(heartbeatSeconds), url.user, url.password)
        if let problem = Self.describe(login) {
            amqp_destroy_connection(state)
            throw BrokerError.unreachable(url.description, "login failed: \(problem)")
        }
        amqp_channel_open(state, channel)
        if let problem = Self.describe(amqp_get_rpc_reply(state)) {
            amqp_connection_close(state, AMQP_REPLY_SUCCESS)
            amqp_destroy_connection(state)
            throw BrokerError.unreachable(url.description, "cannot open a channel: \(problem)")
        }
        self.state = state
    }

    deinit {
        // Plain socket close: a graceful close could block; call close() for that.
        if let state { amqp_destroy_connection(state) }
    }

    /// False once the connection or its channel is closed.
    public var isOpen: Bool { state != nil && lostReason == nil }

    /// Closes the channel and the connection gracefully (if still open) and frees it. Idempotent.
    public func close() {
        guard let state else { return }
        if lostReason == nil {
            amqp_channel_close(state, channel, AMQP_REPLY_SUCCESS)
            amqp_connection_close(state, AMQP_REPLY_SUCCESS)
        }
        amqp_destroy_connection(state)
        self.state = nil
        if lostReason == nil { lostReason = "the connection was closed by this process" }
    }

    // MARK: Topology

    public func declareExchange(name: String, type: String, durable: Bool = true, autoDelete: Bool = false) throws {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        amqp_exchange_declare(
            state, channel, arena.bytes(name), arena.bytes(type), 0, durable ? 1 : 0, autoDelete ? 1 : 0, 0,
            amqp_table_t(num_entries: 0, entries: nil))
        try check(amqp_get_rpc_reply(state), "declare exchange '\(name)'")
    }

    /// Declares a queue and returns its name (the broker picks one when `name` is empty).
    @discardableResult
    public func declareQueue(
        name: String, durable: Bool = true, exclusive: Bool = false, autoDelete: Bool = false,
        arguments: [String: AMQPFieldValue] = [:]
    ) throws -> String {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        let ok = amqp_queue_declare(
            state, channel, arena.bytes(name), 0, durable ? 1 : 0, exclusive ? 1 : 0, autoDelete ? 1 : 0,
            arena.table(arguments))
        try check(amqp_get_rpc_reply(state), "declare queue '\(name)'")
        guard let ok else { throw BrokerError.protocolError("declare queue '\(name)': no declare-ok") }
        return ok.pointee.queue.string
    }

    /// Ready messages and consumers of an existing queue: a passive declare, which
    /// changes nothing. A missing queue closes the channel (404), as AMQP says.
    public func inspectQueue(_ name: String) throws -> (messages: Int, consumers: Int) {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        let ok = amqp_queue_declare(state, channel, arena.bytes(name), 1, 0, 0, 0, amqp_table_t(num_entries: 0, entries: nil))
        try check(amqp_get_rpc_reply(state), "inspect queue '\(name)'")
        guard let ok else { throw BrokerError.protocolError("inspect queue '\(name)': no declare-ok") }
        return (Int(ok.pointee.message_count), Int(ok.pointee.consumer_count))
    }

    public func bindQueue(_ queue: String, exchange: String, routingKey: String) throws {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        amqp_queue_bind(
            state, channel, arena.bytes(queue), arena.bytes(exchange), arena.bytes(routingKey),
            amqp_table_t(num_entries: 0, entries: nil))
        try check(amqp_get_rpc_reply(state), "bind queue '\(queue)' to '\(exchange)' with '\(routingKey)'")
    }

    /// Deletes a queue (and its messages). Deleting a queue that does not exist succeeds.
    public func deleteQueue(_ name: String) throws {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        amqp_queue_delete(state, channel, arena.bytes(name), 0, 0)
        try check(amqp_get_rpc_reply(state), "delete queue '\(name)'")
    }

    public func deleteExchange(_ name: String) throws {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        amqp_exchange_delete(state, channel, arena.bytes(name), 0)
        try check(amqp_get_rpc_reply(state), "delete exchange '\(name)'")
    }

    /// Removes all ready messages from a queue; returns how many.
    @discardableResult
    public func purgeQueue(_ name: String) throws -> Int {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        let ok = amqp_queue_purge(state, channel, arena.bytes(name))
        try check(amqp_get_rpc_reply(state), "purge queue '\(name)'")
        return Int(ok?.pointee.message_count ?? 0)
    }

    /// How many unacknowledged messages the broker sends this channel at most.
    public func qos(prefetchCount: UInt16) throws {
        let state = try openState()
        amqp_basic_qos(state, channel, 0, prefetchCount, 0)
        try check(amqp_get_rpc_reply(state), "set prefetch \(prefetchCount)")
    }

    // MARK: Publishing

    /// Puts the channel in confirm mode: every `publish` then waits for the broker's ack.
    public func enablePublisherConfirms() throws {
        let state = try openState()
        guard !confirmsEnabled else { return }
        amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), "enable publisher confirms")
        confirmsEnabled = true
        nextPublishTag = 1
    }

    /// Publishes one message. With confirms enabled, blocks until the broker acks it (at most
    /// `confirmTimeout`).
    ///
    /// - Parameters:
    ///   - persistent: delivery mode 2, so a durable queue keeps the message across restarts.
    ///   - mandatory: an unroutable message is returned instead of dropped; with confirms this
    ///     throws `publishRejected`.
    /// - Throws: `publishNacked` on a nack; `publishRejected` on a return; `connectionLost` when the connection
    ///   is gone or no confirm came in time (the message may or may not have been stored).
    public func publish(
        exchange: String, routingKey: String, body: [UInt8], persistent: Bool = true, mandatory: Bool = false,
        headers: [String: String] = [:], messageId: String? = nil
    ) throws {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        var properties = amqp_basic_properties_t()
        var flags: UInt32 = 0
        if persistent {
            flags |= UInt32(AMQP_BASIC_DELIVERY_MODE_FLAG)
            properties.delivery_mode = 2
        }
        if let messageId {
            flags |= UInt32(AMQP_BASIC_MESSAGE_ID_FLAG)
            properties.message_id = arena.bytes(messageId)
        }
        if !headers.isEmpty {
            flags |= UInt32(AMQP_BASIC_HEADERS_FLAG)
            properties.headers = arena.table(headers.mapValues { .string($0) })
        }
        properties._flags = flags
        let exchangeBytes = arena.bytes(exchange)
        let keyBytes = arena.bytes(routingKey)
        let status = body.withUnsafeBytes { raw in
            amqp_basic_publish(
                state, channel, exchangeBytes, keyBytes, mandatory ? 1 : 0, 0, &properties,
                amqp_bytes_t(len: raw.count, bytes: UnsafeMutableRawPointer(mutating: raw.baseAddress)))
        }
        guard status == AMQP_STATUS_OK.rawValue else {
            throw lost("publish to '\(exchange)' failed: \(amqpErrorString(status))")
        }
        guard confirmsEnabled else { return }
        let tag = nextPublishTag
        nextPublishTag += 1
        try waitForConfirm(tag: tag, exchange: exchange, routingKey: routingKey)
    }

    private func waitForConfirm(tag: UInt64, exchange: String, routingKey: String) throws {
        awaitedTag = tag
        awaitedOutcome = nil
        returnedReason = nil
        defer { awaitedTag = 0 }
        let deadline = monotonicNow() + confirmTimeout
        while awaitedOutcome == nil {
            let remaining = deadline - monotonicNow()
            guard remaining > 0 else {
                throw lost("no publisher confirm within \(confirmTimeout) s")
            }
            guard let frame = try waitFrame(timeout: remaining) else { continue }
            try handle(frame)
        }
        if awaitedOutcome == .nack {
            throw BrokerError.publishNacked("the broker nacked the message to '\(exchange)' with key '\(routingKey)'")
        }
        if let returnedReason {
            throw BrokerError.publishRejected(
                "unroutable: \(returnedReason) (exchange '\(exchange)', routing key '\(routingKey)'); is the queue declared and bound?")
        }
    }

    // MARK: Consuming

    /// Starts a consumer; returns its (broker-generated) consumer tag.
    public func consume(queue: String, noAck: Bool = false, exclusive: Bool = false) throws -> String {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        let ok = amqp_basic_consume(
            state, channel, arena.bytes(queue), amqp_bytes_t(len: 0, bytes: nil), 0, noAck ? 1 : 0,
            exclusive ? 1 : 0, amqp_table_t(num_entries: 0, entries: nil))
        try check(amqp_get_rpc_reply(state), "consume from '\(queue)'")
        guard let ok else { throw BrokerError.protocolError("consume from '\(queue)': no consume-ok") }
        return ok.pointee.consumer_tag.string
    }

    /// Stops a consumer: the broker sends no new deliveries to it (some may already be in flight).
    public func cancel(consumerTag: String) throws {
        let state = try openState()
        let arena = CArena()
        defer { arena.free() }
        amqp_basic_cancel(state, channel, arena.bytes(consumerTag))
        try check(amqp_get_rpc_reply(state), "cancel consumer '\(consumerTag)'")
    }

    /// Waits up to `timeout` seconds for the next delivery; nil on timeout. Services heartbeats
    /// while waiting.
    ///
    /// - Throws: `connectionLost` when the connection or channel closes; `protocolError` when
    ///   the broker cancelled a consumer (its queue was deleted).
    public func nextDelivery(timeout: Double) throws -> Delivery? {
        let state = try openState()
        if !pending.isEmpty { return pending.removeFirst() }
        let deadline = monotonicNow() + timeout
        while true {
            amqp_maybe_release_buffers(state)
            var envelope = amqp_envelope_t()
            var tv = makeTimeval(deadline - monotonicNow())
            let reply = amqp_consume_message(state, &envelope, &tv, 0)
            switch reply.reply_type {
            case AMQP_RESPONSE_NORMAL:
                // The envelope's memory belongs to rabbitmq-c: copy everything, then free it.
                defer { amqp_destroy_envelope(&envelope) }
                let properties = envelope.message.properties
                let hasHeaders = properties._flags & UInt32(AMQP_BASIC_HEADERS_FLAG) != 0
                let hasMessageId = properties._flags & UInt32(AMQP_BASIC_MESSAGE_ID_FLAG) != 0
                return Delivery(
                    deliveryTag: envelope.delivery_tag, redelivered: envelope.redelivered != 0,
                    exchange: envelope.exchange.string, routingKey: envelope.routing_key.string,
                    body: envelope.message.body.array,
                    headers: hasHeaders ? properties.headers.stringEntries : [:],
                    messageId: hasMessageId ? properties.message_id.string : nil,
                    deliveryCount: hasHeaders ? properties.headers.integer("x-delivery-count") : nil)
            case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_TIMEOUT.rawValue:
                return nil
            case AMQP_RESPONSE_LIBRARY_EXCEPTION where reply.library_error == AMQP_STATUS_UNEXPECTED_STATE.rawValue:
                // A frame other than basic.deliver is waiting (close, cancel, ack…): read it.
                var frame = amqp_frame_t()
                let status = amqp_simple_wait_frame(state, &frame)
                guard status == AMQP_STATUS_OK.rawValue else { throw lost(amqpErrorString(status)) }
                try handle(frame)
                if !pending.isEmpty { return pending.removeFirst() }
                if monotonicNow() >= deadline { return nil }
            default:
                throw lost(Self.describe(reply) ?? "unexpected reply while waiting for a delivery")
            }
        }
    }

    /// Services the connection for up to `timeout` seconds without consuming: sends and checks
    /// heartbeats and notices a closed connection. Deliveries read meanwhile are kept for
    /// `nextDelivery`.
    public func poll(timeout: Double = 0) throws {
        _ = try openState()
        let deadline = monotonicNow() + timeout
        repeat {
            guard let frame = try waitFrame(timeout: max(0, deadline - monotonicNow())) else { return }
            try handle(frame)
        } while monotonicNow() < deadline
    }

    public func ack(deliveryTag: UInt64) throws {
        let state = try openState()
        let status = amqp_basic_ack(state, channel, deliveryTag, 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw lost("ack failed: \(amqpErrorString(status))") }
    }

    /// Negative acknowledgement; `requeue: false` dead-letters the message (if the queue has a DLX).
    public func nack(deliveryTag: UInt64, requeue: Bool) throws {
        let state = try openState()
        let status = amqp_basic_nack(state, channel, deliveryTag, 0, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw lost("nack failed: \(amqpErrorString(status))") }
    }

    /// Rejects one message; `requeue: false` dead-letters it (if the queue has a DLX).
    public func reject(deliveryTag: UInt64, requeue: Bool = false) throws {
        let state = try openState()
        let status = amqp_basic_reject(state, channel, deliveryTag, requeue ? 1 : 0)
        guard status == AMQP_STATUS_OK.rawValue else { throw lost("reject failed: \(amqpErrorString(status))") }
    }

    // MARK: Frames and errors

    private func openState() throws -> amqp_connection_state_t {
        if let lostReason { throw BrokerError.connectionLost(lostReason) }
        guard let state else { throw BrokerError.connectionLost("the connection is closed") }
        return state
    }

    /// Marks the connection unusable and returns the error to throw.
    private func lost(_ reason: String) -> BrokerError {
        if lostReason == nil { lostReason = reason }
        return .connectionLost(reason)
    }

    /// One frame, or nil on timeout. Heartbeats are handled inside rabbitmq-c.
    private func waitFrame(timeout: Double) throws -> amqp_frame_t? {
        let state = try openState()
        // Frames are decoded into pools that only this frees; everything is copied out of a
        // frame before the next wait, so release now (a no-op while frames are queued).
        amqp_maybe_release_buffers(state)
        var frame = amqp_frame_t()
        var tv = makeTimeval(timeout)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &tv)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        guard status == AMQP_STATUS_OK.rawValue else { throw lost(amqpErrorString(status)) }
        return frame
    }

    /// Acts on a frame that arrived outside an RPC: confirms, returns, deliveries, closes.
    private func handle(_ frame: amqp_frame_t) throws {
        guard frame.frame_type == AMQP_FRAME_METHOD, let state else { return }
        let method = frame.payload.method
        switch method.id {
        case kg_amqp_method_basic_ack():
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            if awaitedTag != 0, ack.delivery_tag == awaitedTag || (ack.multiple != 0 && ack.delivery_tag >= awaitedTag) {
                awaitedOutcome = .ack
            }
        case kg_amqp_method_basic_nack():
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            if awaitedTag != 0, nack.delivery_tag == awaitedTag || (nack.multiple != 0 && nack.delivery_tag >= awaitedTag) {
                awaitedOutcome = .nack
            }
        case kg_amqp_method_basic_return():
            let ret = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            returnedReason = "\(ret.reply_code) \(ret.reply_text.string)"
            // The returned message's header and body frames follow: read and drop them.
            var message = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &message, 0)
            if reply.reply_type == AMQP_RESPONSE_NORMAL {
                amqp_destroy_message(&message)
            } else {
                throw lost(Self.describe(reply) ?? "cannot read a returned message")
            }
        case kg_amqp_method_basic_deliver():
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            var delivery = Delivery(
                deliveryTag: deliver.delivery_tag, redelivered: deliver.redelivered != 0,
                exchange: deliver.exchange.string, routingKey: deliver.routing_key.string, body: [])
            var message = amqp_message_t()
            let reply = amqp_read_message(state, frame.channel, &message, 0)
            guard reply.reply_type == AMQP_RESPONSE_NORMAL else {
                throw lost(Self.describe(reply) ?? "cannot read a delivered message")
            }
            defer { amqp_destroy_message(&message) }
            delivery.body = message.body.array
            let properties = message.properties
            if properties._flags & UInt32(AMQP_BASIC_HEADERS_FLAG) != 0 {
                delivery.headers = properties.headers.stringEntries
                delivery.deliveryCount = properties.headers.integer("x-delivery-count")
            }
            if properties._flags & UInt32(AMQP_BASIC_MESSAGE_ID_FLAG) != 0 {
                delivery.messageId = properties.message_id.string
            }
            pending.append(delivery)
        case kg_amqp_method_basic_cancel():
            let cancel = method.decoded.assumingMemoryBound(to: amqp_basic_cancel_t.self).pointee
            let tag = cancel.consumer_tag.string
            cancelledConsumers.append(tag)
            throw BrokerError.protocolError("the broker cancelled consumer '\(tag)' (was its queue deleted?)")
        case kg_amqp_method_channel_close():
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            _ = kg_amqp_send_channel_close_ok(state, frame.channel)
            throw lost("the broker closed the channel: \(close.reply_code) \(close.reply_text.string)")
        case kg_amqp_method_connection_close():
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            _ = kg_amqp_send_connection_close_ok(state)
            throw lost("the broker closed the connection: \(close.reply_code) \(close.reply_text.string)")
        default:
            break  // connection.blocked/unblocked and the like: nothing to do here
        }
    }

    /// Throws for a failed RPC. Broker errors close the channel (or connection), so the
    /// connection is marked unusable after answering the close.
    private func check(_ reply: amqp_rpc_reply_t, _ context: String) throws {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            guard let state else { throw lost(context) }
            if reply.reply.id == kg_amqp_method_channel_close() {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                _ = kg_amqp_send_channel_close_ok(state, channel)
                let why = "\(context): \(close.reply_code) \(close.reply_text.string)"
                _ = lost("channel closed after an error: \(why)")
                throw BrokerError.protocolError(why)
            }
            if reply.reply.id == kg_amqp_method_connection_close() {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                _ = kg_amqp_send_connection_close_ok(state)
                throw lost("\(context): the broker closed the connection: \(close.reply_code) \(close.reply_text.string)")
            }
            throw lost("\(context): unexpected server method \(reply.reply.id)")
        default:
            throw lost("\(context): \(Self.describe(reply) ?? "no reply")")
        }
    }

    /// nil for a normal reply, else a readable reason.
    private static func describe(_ reply: amqp_rpc_reply_t) -> String? {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return nil
        case AMQP_RESPONSE_NONE:
            return "no reply from the broker"
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            return amqpErrorString(reply.library_error)
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == kg_amqp_method_connection_close() {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                return "\(close.reply_code) \(close.reply_text.string)"
            }
            if reply.reply.id == kg_amqp_method_channel_close() {
                let close = reply.reply.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
                return "\(close.reply_code) \(close.reply_text.string)"
            }
            return "server exception (method \(reply.reply.id))"
        default:
            return "unknown reply type"
        }
    }
}
