/// One event of a `text/event-stream` response.
///
/// ```swift
/// try client.streamEvents(path: "/jobs/\(id)/events") { event in
///     print(event.event ?? "message", event.data)
///     return event.event != "completed"
/// }
/// ```
public struct ServerSentEvent: Sendable, Equatable {
    /// The `event:` field, nil for the default ("message") type.
    public var event: String?
    /// The `data:` lines joined with "\n".
    public var data: String
    /// The last `id:` seen on the stream so far (as the SSE spec defines it), nil if none.
    public var id: String?

    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}
