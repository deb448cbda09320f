import HTTPTypes
import Logging
import NIOCore
import NIOHTTPTypes

/// `http_request_timeout_s`: a connection must deliver a whole request within
/// this time of opening, or of the end of its previous exchange: the head, and
/// the body too unless the body is an upload. Past the deadline the connection
/// is closed (nothing has been answered yet, so there is nothing to cut short).
///
/// The idle timeout (`http_idle_timeout_s`) cuts a client that goes silent; this
/// one cuts a client that trickles a byte now and then (slow-loris) and so is
/// never idle. Authenticated uploads are exempt from the body part, because a 500 MB
/// backup on a slow link legitimately takes long: a multipart body, a resumable upload's range
/// (`application/offset+octet-stream`), or one declared
/// larger than ``smallBodyLimit``, whose request ``AuthMiddleware`` accepted (it sends
/// ``UploadAuthenticated`` down the pipeline), is bounded by the idle timeout and the
/// upload size limit instead. The headers alone exempt nothing: an unauthenticated
/// client could otherwise trickle a body for ever (issue 14, finding 3). When a
/// response ends before its request's body (a 401, 413 or 429: Hummingbird then
/// drains the body), the deadline runs again for the rest of that body.
/// Responses (backup downloads, SSE) are never timed here.
///
/// It sits in Hummingbird's HTTP/1 pipeline after the HTTP codec, so it sees
/// whole heads; all its state lives on the channel's event loop.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Bodies declared larger than this (with `Content-Length`) are uploads.
    static let smallBodyLimit: Int64 = 1 << 20

    private let timeout: TimeAmount
    private let logger: Logger
    private var deadline: Scheduled<Void>?
    /// Between a request's head and its end.
    private var readingRequest = false
    /// The request being read is an upload by its headers (exempt once authenticated).
    private var readingUpload = false
    /// The request being read has been answered already (its body is drained).
    private var answeredEarly = false
    /// Requests read whose response has not ended yet.
    private var awaitingResponses = 0

    init(timeout: TimeAmount, logger: Logger) {
        self.timeout = timeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startWaiting(context, for: "a request head") }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancel()
    }

    func channelActive(context: ChannelHandlerContext) {
        startWaiting(context, for: "a request head")
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            readingRequest = true
            answeredEarly = false
            awaitingResponses += 1
            // The head came in time; the body must arrive within what is left of the
            // same deadline, unless it is an upload and authentication accepts it.
            readingUpload = Self.isUpload(request)
        case .body:
            break
        case .end:
            readingRequest = false
            readingUpload = false
            cancel()
            if awaitingResponses == 0 { startWaiting(context, for: "the next request") }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            awaitingResponses = max(0, awaitingResponses - 1)
            if readingRequest {
                // Answered before the request's body ended (401, 413, 429): nobody reads the
                // rest, so an exempt upload's body is timed again from now; a timed body
                // keeps its running deadline.
                answeredEarly = true
                readingUpload = false
                if deadline == nil { startWaiting(context, for: "the rest of a request already answered") }
            } else if awaitingResponses == 0 {
                startWaiting(context, for: "the next request")
            }
        }
        context.write(data, promise: promise)
    }

    /// Sent by ``AuthMiddleware`` (`channel.triggerUserOutboundEvent`) once a request's
    /// token is accepted: if that request is an upload, its body is no longer timed.
    struct UploadAuthenticated: Sendable {}

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is UploadAuthenticated else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        if readingRequest && readingUpload && !answeredEarly { cancel() }
        promise?.succeed(())
    }

    static func isUpload(_ request: HTTPRequest) -> Bool {
        if let type = request.headerFields[.contentType]?.lowercased(),
            type.hasPrefix("multipart/form-data") || type.hasPrefix("application/offset+octet-stream")
        {
            return true
        }
        if let length = request.headerFields[.contentLength].flatMap({ Int64($0) }), length > smallBodyLimit { return true }
        return false
    }

    private func startWaiting(_ context: ChannelHandlerContext, for what: String) {
        cancel()
        let seconds = Double(timeout.nanoseconds) / 1e9
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            deadline = nil
            let phase = readingRequest ? "the rest of a request" : what
            logger.notice(
                "closing a connection that did not send \(phase) within http_request_timeout_s (\(seconds) s)",
                metadata: ["peer": "\(context.channel.remoteAddress.map { "\($0)" } ?? "?")"])
            context.close(promise: nil)
        }
    }

    private func cancel() {
        deadline?.cancel()
        deadline = nil
    }
}
